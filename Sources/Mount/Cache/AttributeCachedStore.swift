import Foundation
import S3

/// A store whose listings carry the metadata of every entry a HEAD already answered for, as long
/// as the entry is unchanged (see `AttributeCache`): after a remount, a cold `ls -l` against an
/// endpoint whose listings carry no metadata (plain SeaweedFS, AWS) needs HEADs only for what
/// changed. Everything else goes to `inner` as it is (every call forwarded, so none falls back to
/// a protocol default). Writes need not forget anything: a changed object lists with another
/// ETag or LastModified (see `AttributeCache.keep`).
public struct AttributeCachedStore: ObjectStore {
    public let inner: any ObjectStore
    public let cache: AttributeCache

    public init(_ inner: any ObjectStore, cache: AttributeCache) {
        self.inner = inner
        self.cache = cache
    }

    public func head(_ key: String) throws -> ObjectMeta {
        let meta = try inner.head(key)
        cache.keep(meta)
        return meta
    }

    public func list(prefix: String) throws -> StoreListing {
        var listing = try inner.list(prefix: prefix)
        listing.objects = cache.fill(listing.objects)
        return listing
    }

    public func listPages(prefix: String, _ body: (StoreListing) throws -> Void) throws {
        try inner.listPages(prefix: prefix) { page in
            var p = page
            p.objects = cache.fill(p.objects)
            try body(p)
        }
    }

    public func listFirst(prefix: String, limit: Int) throws -> (listing: StoreListing, complete: Bool) {
        var (listing, complete) = try inner.listFirst(prefix: prefix, limit: limit)
        listing.objects = cache.fill(listing.objects)
        return (listing, complete)
    }

    public func read(_ key: String, range: Range<Int64>, etag: String?) throws -> Data {
        try inner.read(key, range: range, etag: etag)
    }

    public func read(_ key: String, range: Range<Int64>, etag: String?, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try inner.read(key, range: range, etag: etag, into: buffer)
    }

    @discardableResult
    public func put(_ key: String, data: Data, metadata: [String: String]) throws -> ObjectMeta {
        return try inner.put(key, data: data, metadata: metadata)
    }

    public func copy(from source: String, to destination: String, metadata: [String: String]?, retype: Bool) throws {
        try inner.copy(from: source, to: destination, metadata: metadata, retype: retype)
    }

    public func delete(_ key: String) throws {
        try inner.delete(key)
    }

    public func rename(from source: String, to destination: String) throws -> Bool {
        return try inner.rename(from: source, to: destination)
    }

    @discardableResult
    public func putFile(_ key: String, path: String, size: Int64, local: ByteRanges, base: BaseObject, metadata: [String: String]) throws -> ObjectMeta {
        return try inner.putFile(key, path: path, size: size, local: local, base: base, metadata: metadata)
    }

    public func startUpload(_ key: String, metadata: [String: String]) throws -> String {
        try inner.startUpload(key, metadata: metadata)
    }

    public func uploadPart(_ key: String, uploadId: String, number: Int, data: Data) throws -> String {
        try inner.uploadPart(key, uploadId: uploadId, number: number, data: data)
    }

    @discardableResult
    public func completeUpload(_ key: String, uploadId: String, parts: [(Int, String)]) throws -> ObjectMeta {
        return try inner.completeUpload(key, uploadId: uploadId, parts: parts)
    }

    public func abortUpload(_ key: String, uploadId: String) {
        inner.abortUpload(key, uploadId: uploadId)
    }
}
