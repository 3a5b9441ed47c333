import Daemon
import Foundation
import S3
import Testing
import TestSupport

/// The S3 client against the real engine (the daemon's internal SeaweedFS endpoint and identity).
@Suite(.serialized) struct S3ClientTests {
    func kind(_ body: () throws -> Void) -> S3Error.Kind? {
        do { try body() } catch let e as S3Error { return e.kind } catch { return nil }
        return nil
    }

    @Test func objectOperationsListingAndMultipart() throws {
        let h = try DaemonHarness(name: "s3c")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        let s3 = try h.engineClient()
        let b = "client-test"
        try s3.createBucket(b)

        // Put, head with metadata, get, ranged get.
        let payload = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try s3.put(bucket: b, key: "data/one.bin", body: payload, metadata: ["mode": "33188", "mtime": "1700000000"])
        let info = try s3.head(bucket: b, key: "data/one.bin")
        #expect(info.size == 100_000)
        #expect(info.metadata["mode"] == "33188")
        #expect(info.metadata["mtime"] == "1700000000")
        #expect(try s3.get(bucket: b, key: "data/one.bin") == payload)
        #expect(try s3.get(bucket: b, key: "data/one.bin", range: 10...19) == payload[10...19])
        #expect(kind { _ = try s3.head(bucket: b, key: "data/missing") } == .notFound)
        #expect(kind { _ = try s3.get(bucket: b, key: "data/one.bin", ifMatch: "\"nope\"") } == .preconditionFailed)

        // Keys that need encoding, and a directory marker (trailing slash) survive signing.
        for key in ["odd/a b+c%d.txt", "odd/ünï€ode.txt", "odd/~tilde=eq&amp;"] {
            try s3.put(bucket: b, key: key, body: Data(key.utf8))
            #expect(try s3.get(bucket: b, key: key) == Data(key.utf8), "\(key)")
        }
        // A `dir/` key (trailing slash) is signed right. SeaweedFS 4.48 keeps it as a directory:
        // the body and the user metadata are dropped (a landmine for directory attributes).
        try s3.put(bucket: b, key: "dirmarker/", body: Data(), metadata: ["mode": "16877"])
        #expect(try s3.head(bucket: b, key: "dirmarker/").size == 0)

        // Copy with REPLACE metadata.
        try s3.copy(bucket: b, from: "data/one.bin", to: "data/two.bin", metadata: ["mode": "33261"])
        #expect(try s3.head(bucket: b, key: "data/two.bin").metadata == ["mode": "33261"])
        #expect(try s3.get(bucket: b, key: "data/two.bin") == payload)

        // Listing: delimiter and pagination.
        for i in 0..<7 { try s3.put(bucket: b, key: "many/\(i)", body: Data([UInt8(i)])) }
        let top = try s3.listAll(bucket: b, delimiter: "/")
        #expect(Set(top.commonPrefixes) == ["data/", "dirmarker/", "many/", "odd/"])
        let first = try s3.list(bucket: b, prefix: "many/", maxKeys: 3)
        #expect(first.objects.map(\.key) == ["many/0", "many/1", "many/2"])
        #expect(first.nextContinuationToken != nil)
        let all = try s3.listAll(bucket: b, prefix: "many/")
        #expect(all.objects.map(\.key) == (0..<7).map { "many/\($0)" })
        #expect(all.objects.allSatisfy { $0.size == 1 && $0.lastModified != nil })

        // Multipart: two parts, completed, then an aborted one.
        let part1 = Data(repeating: 1, count: 5 << 20), part2 = Data(repeating: 2, count: 1234)
        let upload = try s3.createMultipartUpload(bucket: b, key: "big/file", metadata: ["mode": "33188"])
        let e1 = try s3.uploadPart(bucket: b, key: "big/file", uploadId: upload, number: 1, body: part1)
        let e2 = try s3.uploadPart(bucket: b, key: "big/file", uploadId: upload, number: 2, body: part2)
        try s3.completeMultipartUpload(bucket: b, key: "big/file", uploadId: upload, parts: [(1, e1), (2, e2)])
        #expect(try s3.head(bucket: b, key: "big/file").size == Int64(part1.count + part2.count))
        #expect(try s3.get(bucket: b, key: "big/file", range: Int64(part1.count - 2)...Int64(part1.count + 1)) == Data([1, 1, 2, 2]))
        let aborted = try s3.createMultipartUpload(bucket: b, key: "big/aborted")
        _ = try s3.uploadPart(bucket: b, key: "big/aborted", uploadId: aborted, number: 1, body: part2)
        try s3.abortMultipartUpload(bucket: b, key: "big/aborted", uploadId: aborted)
        #expect(kind { _ = try s3.head(bucket: b, key: "big/aborted") } == .notFound)

        // Delete one, then many at once.
        try s3.delete(bucket: b, key: "data/two.bin")
        #expect(kind { _ = try s3.head(bucket: b, key: "data/two.bin") } == .notFound)
        let failed = try s3.deleteObjects(bucket: b, keys: (0..<7).map { "many/\($0)" })
        #expect(failed.isEmpty, "\(failed)")
        #expect(try s3.list(bucket: b, prefix: "many/").objects.isEmpty)
    }
}
