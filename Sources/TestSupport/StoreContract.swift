import Foundation
import Mount

/// The behaviour every `ObjectStore` must have, written once and run against the in-memory store
/// (unit tests) and the real S3 store (integration tests). Returns what failed; empty means all held.
public enum StoreContract {
    public static func check(_ store: any ObjectStore, prefix p: String) -> [String] {
        var failures: [String] = []
        func expect(_ ok: @autoclosure () throws -> Bool, _ what: String) {
            do { if try !ok() { failures.append(what) } } catch { failures.append("\(what): threw \(error)") }
        }
        /// How a call ended: a throw that is not a VFSError is a failure of its own, never success.
        enum Outcome: Equatable { case succeeded, failed(VFSError.Code), threwOther(String) }
        func code(_ body: () throws -> Void) -> Outcome {
            do { try body() } catch let e as VFSError { return .failed(e.code) } catch { return .threwOther("\(error)") }
            return .succeeded
        }
        let data = Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 13) })
        do {
            let meta = try store.put(p + "a/file.bin", data: data, metadata: ["mode": "33188", "uid": "1000"])
            expect(meta.size == 5000, "put returns the size")
            expect(meta.etag != nil, "put returns an ETag")
            let head = try store.head(p + "a/file.bin")
            expect(head.size == 5000, "head size")
            expect(head.metadata["mode"] == "33188" && head.metadata["uid"] == "1000", "head carries user metadata")
            expect(head.etag == meta.etag, "head ETag equals put ETag")
            expect(try store.read(p + "a/file.bin", range: 0..<5000, etag: nil) == data, "whole read")
            expect(try store.read(p + "a/file.bin", range: 100..<110, etag: meta.etag) == data[100..<110], "ranged read with the right ETag")
            expect(code { _ = try store.head(p + "a/none") } == .failed(.notFound), "head of a missing key is notFound")
            expect(code { _ = try store.read(p + "a/none", range: 0..<1, etag: nil) } == .failed(.notFound), "read of a missing key is notFound")

            // Changed under the reader: a read with the old ETag is stale, never mixed data.
            try store.put(p + "a/file.bin", data: Data("changed".utf8), metadata: [:])
            expect(code { _ = try store.read(p + "a/file.bin", range: 0..<3, etag: meta.etag) } == .failed(.stale), "read with an outdated ETag is stale")

            try store.copy(from: p + "a/file.bin", to: p + "b/copy.bin", metadata: ["mode": "33261"])
            expect(try store.head(p + "b/copy.bin").metadata == ["mode": "33261"], "copy replaces metadata")
            expect(try store.read(p + "b/copy.bin", range: 0..<7, etag: nil) == Data("changed".utf8), "copy copies the bytes")
            expect(code { try store.copy(from: p + "a/none", to: p + "b/x", metadata: nil) } == .failed(.notFound), "copy of a missing key is notFound")

            try store.put(p + "a/sub/deep.txt", data: Data("x".utf8), metadata: [:])
            try store.put(p + "emptydir/", data: Data(), metadata: [:])
            let top = try store.list(prefix: p)
            expect(top.objects.isEmpty, "no objects at the top level (got \(top.objects.map(\.key)))")
            expect(top.prefixes == [p + "a/", p + "b/", p + "emptydir/"], "top-level prefixes (got \(top.prefixes))")
            let a = try store.list(prefix: p + "a/")
            expect(a.objects.map(\.key) == [p + "a/file.bin"], "objects under a/ (got \(a.objects.map(\.key)))")
            expect(a.prefixes == [p + "a/sub/"], "prefixes under a/ (got \(a.prefixes))")
            expect(a.objects.first?.size == 7, "listing sizes")

            try store.delete(p + "b/copy.bin")
            expect(code { _ = try store.head(p + "b/copy.bin") } == .failed(.notFound), "deleted key is gone")
            expect(code { try store.delete(p + "b/copy.bin") } == .succeeded, "deleting a missing key succeeds")
            for k in ["a/file.bin", "a/sub/deep.txt", "emptydir/"] { try store.delete(p + k) }
        } catch {
            failures.append("unexpected error: \(error)")
        }
        return failures
    }
}
