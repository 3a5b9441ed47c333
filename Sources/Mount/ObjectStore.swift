import Foundation
import S3

/// What the store knows about one object: the S3 client's `ObjectInfo` (user metadata are
/// `metadata`, names lowercased without `x-amz-meta-`; empty from listings).
public typealias ObjectMeta = ObjectInfo

/// One directory level of keys under a prefix (delimiter `/`).
public struct StoreListing: Sendable, Equatable {
    /// Objects directly under the prefix (their keys are full keys).
    public var objects: [ObjectMeta]
    /// Sub-prefixes, each ending in `/`.
    public var prefixes: [String]

    public init(objects: [ObjectMeta] = [], prefixes: [String] = []) {
        self.objects = objects
        self.prefixes = prefixes
    }
}

/// The object store the filesystem core talks to: S3 in production, in memory in unit tests.
/// Every failure is a `VFSError`, so the errno is decided by `VFSError` alone. Blocking calls:
/// the FUSE adapter calls them from libfuse's own threads.
public protocol ObjectStore: Sendable {
    /// Size, ETag, date and user metadata; `.notFound` when the key does not exist.
    func head(_ key: String) throws -> ObjectMeta
    /// Bytes `range` of the object; `.stale` when `etag` is given and the object has changed since.
    func read(_ key: String, range: Range<Int64>, etag: String?) throws -> Data
    /// Stores the whole object; returns what was stored (with the new ETag).
    @discardableResult
    func put(_ key: String, data: Data, metadata: [String: String]) throws -> ObjectMeta
    /// Stores the contents of the file at `path` (multipart when it is large); returns what was stored.
    @discardableResult
    func putFile(_ key: String, path: String, metadata: [String: String]) throws -> ObjectMeta
    /// Server-side copy; `metadata` replaces the source's when given.
    func copy(from source: String, to destination: String, metadata: [String: String]?) throws
    /// Deletes the key; deleting a missing key succeeds (as in S3).
    func delete(_ key: String) throws
    /// Everything one level below `prefix`, all pages.
    func list(prefix: String) throws -> StoreListing
    /// One request's worth of `list`: at most `limit` entries, and whether that is all of them.
    func listFirst(prefix: String, limit: Int) throws -> (listing: StoreListing, complete: Bool)
}

extension ObjectStore {
    public func listFirst(prefix: String, limit: Int) throws -> (listing: StoreListing, complete: Bool) {
        let l = try list(prefix: prefix)
        return (l, l.objects.count + l.prefixes.count <= limit)
    }
}
