import Foundation
import Mount
import Synchronization

/// Lists `inner` in two pages; the second waits for `secondPage`, then fails when `failSecond`.
public final class TwoPageStore: ObjectStore, @unchecked Sendable {
    let inner: any ObjectStore
    public let secondPage = DispatchSemaphore(value: 0)
    public let failSecond = Mutex(false)
    public init(inner: any ObjectStore) { self.inner = inner }
    public func listPages(prefix: String, _ page: (StoreListing) throws -> Void) throws {
        let all = try inner.list(prefix: prefix)
        let half = all.objects.count / 2
        try page(StoreListing(objects: Array(all.objects[..<half]), prefixes: []))
        secondPage.wait()
        if failSecond.withLock({ $0 }) { throw VFSError(.io, "the second page failed (injected)") }
        try page(StoreListing(objects: Array(all.objects[half...]), prefixes: all.prefixes))
    }
    public func head(_ key: String) throws -> ObjectMeta { try inner.head(key) }
    public func read(_ key: String, range: Range<Int64>, etag: String?) throws -> Data { try inner.read(key, range: range, etag: etag) }
    public func read(_ key: String, range: Range<Int64>, etag: String?, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try inner.read(key, range: range, etag: etag, into: buffer)
    }
    public func put(_ key: String, data: Data, metadata: [String: String]) throws -> ObjectMeta { try inner.put(key, data: data, metadata: metadata) }
    public func copy(from source: String, to destination: String, metadata: [String: String]?, retype: Bool) throws {
        try inner.copy(from: source, to: destination, metadata: metadata, retype: retype)
    }
    public func delete(_ key: String) throws { try inner.delete(key) }
    public func rename(from source: String, to destination: String) throws -> Bool { try inner.rename(from: source, to: destination) }
    public func list(prefix: String) throws -> StoreListing { try inner.list(prefix: prefix) }
    public func listFirst(prefix: String, limit: Int) throws -> (listing: StoreListing, complete: Bool) { try inner.listFirst(prefix: prefix, limit: limit) }
    public func putFile(_ key: String, path: String, size: Int64, local: ByteRanges, base: BaseObject, metadata: [String: String]) throws -> ObjectMeta {
        try inner.putFile(key, path: path, size: size, local: local, base: base, metadata: metadata)
    }
    public func startUpload(_ key: String, metadata: [String: String]) throws -> String { try inner.startUpload(key, metadata: metadata) }
    public func uploadPart(_ key: String, uploadId: String, number: Int, data: Data) throws -> String { try inner.uploadPart(key, uploadId: uploadId, number: number, data: data) }
    public func completeUpload(_ key: String, uploadId: String, parts: [(Int, String)]) throws -> ObjectMeta { try inner.completeUpload(key, uploadId: uploadId, parts: parts) }
    public func abortUpload(_ key: String, uploadId: String) { inner.abortUpload(key, uploadId: uploadId) }
}
