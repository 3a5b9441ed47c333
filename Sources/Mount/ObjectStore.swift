import Foundation
#if canImport(Glibc)
import Glibc
#endif
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
    /// The attributes a listing gave for a sub-prefix (a directory), by prefix (see `ListPage`).
    public var prefixMetadata: [String: [String: String]] = [:]

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
    /// `read` into caller-owned memory of at least `range.count` bytes; returns how many came.
    func read(_ key: String, range: Range<Int64>, etag: String?, into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// Stores the whole object; returns what was stored (with the new ETag).
    @discardableResult
    func put(_ key: String, data: Data, metadata: [String: String]) throws -> ObjectMeta
    /// Server-side copy. With `metadata`, its keys replace the source's attribute keys (s3fs's:
    /// `PosixAttributes.ownKeys`) and everything else the object carries stays: other tools'
    /// metadata, its Cache-Control, Content-Encoding and the like, and its Content-Type —
    /// unless `retype`, which gives it the type of the destination's name (a rename, as s3fs does).
    func copy(from source: String, to destination: String, metadata: [String: String]?, retype: Bool) throws
    /// Deletes the key; deleting a missing key succeeds (as in S3).
    func delete(_ key: String) throws
    /// Moves the object to `destination` in one request (replacing what is there), metadata and
    /// all; false when the store does not offer renames (then nothing was done: copy and delete).
    func rename(from source: String, to destination: String) throws -> Bool
    /// Everything one level below `prefix`, all pages.
    func list(prefix: String) throws -> StoreListing
    /// `list`, handed over a page at a time (a big directory's entries are not all held at once).
    func listPages(prefix: String, _ page: (StoreListing) throws -> Void) throws
    /// One request's worth of `list`: at most `limit` entries, and whether that is all of them.
    func listFirst(prefix: String, limit: Int) throws -> (listing: StoreListing, complete: Bool)
    /// Stores `size` bytes as `key`: the ranges in `local` from the file at `path` (same offsets),
    /// every other byte from `base` as it was at its ETag (`.stale` if it has changed since). A
    /// store that can copy server side leaves untouched parts of a big file where they are.
    @discardableResult
    func putFile(_ key: String, path: String, size: Int64, local: ByteRanges, base: BaseObject, metadata: [String: String]) throws -> ObjectMeta

    /// A multipart upload fed part by part (a file uploaded while it is written): its id.
    func startUpload(_ key: String, metadata: [String: String]) throws -> String
    /// Part `number` (from 1) of the upload; its ETag.
    func uploadPart(_ key: String, uploadId: String, number: Int, data: Data) throws -> String
    /// Makes the parts (number, ETag, in order) the object.
    @discardableResult
    func completeUpload(_ key: String, uploadId: String, parts: [(Int, String)]) throws -> ObjectMeta
    /// Drops the upload and its parts (best effort).
    func abortUpload(_ key: String, uploadId: String)
}

/// The object a partly staged file was opened from.
public struct BaseObject: Sendable, Equatable {
    public var key: String
    public var etag: String?
    public var size: Int64

    public init(key: String, etag: String?, size: Int64) {
        self.key = key
        self.etag = etag
        self.size = size
    }
}

extension ObjectStore {
    /// A copy that keeps the object's type (`retype: false`).
    public func copy(from source: String, to destination: String, metadata: [String: String]?) throws {
        try copy(from: source, to: destination, metadata: metadata, retype: false)
    }

    /// One page: the whole listing.
    public func listPages(prefix: String, _ page: (StoreListing) throws -> Void) throws { try page(try list(prefix: prefix)) }

    /// A store without renames.
    public func rename(from source: String, to destination: String) throws -> Bool { false }

    /// Without server-side copy: the whole body is put together in memory and stored with one PUT.
    @discardableResult
    public func putFile(_ key: String, path: String, size: Int64, local: ByteRanges, base: BaseObject, metadata: [String: String]) throws -> ObjectMeta {
        try put(key, data: try assemble(0..<size, path: path, local: local, base: base), metadata: metadata)
    }

    /// Bytes `range` of a partly staged file: local ranges from `path`, the others from `base`.
    public func assemble(_ range: Range<Int64>, path: String, local: ByteRanges, base: BaseObject) throws -> Data {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VFSError(.io, "cannot read staging file \(path)") }
        defer { close(fd) }
        var out = Data(count: Int(range.count))
        var at = range.lowerBound
        let gaps = local.missing(in: range)
        func copyLocal(_ r: Range<Int64>) throws {
            guard !r.isEmpty else { return }
            let d = try StagingIO.readExactly(fd, offset: r.lowerBound, count: Int(r.count), path: path)
            out.replaceSubrange(Int(r.lowerBound - range.lowerBound)..<Int(r.upperBound - range.lowerBound), with: d)
        }
        for gap in gaps {
            try copyLocal(at..<gap.lowerBound)
            let fromBase = gap.clamped(to: 0..<base.size)
            if !fromBase.isEmpty {
                let d = try read(base.key, range: fromBase, etag: base.etag)
                guard d.count == fromBase.count else { throw VFSError(.stale, "\(base.key) is shorter than when it was opened") }
                out.replaceSubrange(Int(fromBase.lowerBound - range.lowerBound)..<Int(fromBase.upperBound - range.lowerBound), with: d)
            }
            at = gap.upperBound
        }
        try copyLocal(at..<range.upperBound)
        return out
    }

    public func listFirst(prefix: String, limit: Int) throws -> (listing: StoreListing, complete: Bool) {
        let l = try list(prefix: prefix)
        return (l, l.objects.count + l.prefixes.count <= limit)
    }
}

extension ObjectStore {
    /// Reads into a Data and copies (stores without a way to fill caller memory).
    public func read(_ key: String, range: Range<Int64>, etag: String?, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let data = try read(key, range: range, etag: etag)
        guard data.count <= buffer.count else { throw VFSError(.io, "read of \(key) brought \(data.count) bytes for \(buffer.count)") }
        // SAFETY: checked above that the bytes fit; the caller's raw memory holds plain bytes.
        _ = data.copyBytes(to: buffer.bindMemory(to: UInt8.self))
        return data.count
    }
}
