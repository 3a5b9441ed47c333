import Foundation
import S3
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `ObjectStore` over an S3 bucket through `S3Client`.
public final class S3ObjectStore: ObjectStore {
    public let client: S3Client
    public let bucket: String
    /// Whether the endpoint takes `?renameObject`: unknown until the first rename, then known.
    private let renames = Mutex<Bool?>(nil)
    /// Whether listings ask for each entry's metadata (`metadata=true`): until the endpoint
    /// refuses the parameter. Endpoints that ignore it answer plain entries, which are HEADed.
    private let listsMetadata = Mutex(true)

    public init(client: S3Client, bucket: String) {
        self.client = client
        self.bucket = bucket
    }

    public func head(_ key: String) throws -> ObjectMeta {
        try mapped { try client.head(bucket: bucket, key: key) }
    }

    public func read(_ key: String, range: Range<Int64>, etag: String?) throws -> Data {
        guard !range.isEmpty else { return Data() }
        return try mapped { try client.get(bucket: bucket, key: key, range: range.lowerBound...(range.upperBound - 1), ifMatch: etag) }
    }

    public func read(_ key: String, range: Range<Int64>, etag: String?, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard !range.isEmpty else { return 0 }
        let sink = ResponseSink(buffer)
        return try mapped { try client.get(bucket: bucket, key: key, range: range.lowerBound...(range.upperBound - 1), ifMatch: etag, into: sink) }
    }

    @discardableResult
    public func put(_ key: String, data: Data, metadata: [String: String]) throws -> ObjectMeta {
        let etag = try mapped { try client.put(bucket: bucket, key: key, body: data, metadata: metadata, contentType: contentType(key)) }
        return ObjectMeta(key: key, size: Int64(data.count), etag: etag, lastModified: Date(), metadata: metadata)
    }

    /// Whole-object PUT up to `multipartThreshold`, multipart above: parts of at least 8 MiB (at
    /// most 10 000 of them, so files beyond 5 GiB work), `uploadWidth` of them in flight at once.
    /// Parts that this mount has not touched are copied server side (UploadPartCopy, guarded by the
    /// base's ETag, `copyWidth` at a time); the others are put together from the staging file and
    /// ranged GETs (`uploadWidth` at a time, each holding a part in memory).
    @discardableResult
    public func putFile(_ key: String, path: String, size: Int64, local: ByteRanges, base: BaseObject,
                        metadata: [String: String]) throws -> ObjectMeta {
        if size <= Self.multipartThreshold {
            return try put(key, data: try assemble(0..<size, path: path, local: local, base: base), metadata: metadata)
        }
        let partSize = max(Self.minimumPartSize, (size + 9_999) / 10_000)
        let count = Int((size + partSize - 1) / partSize)
        let upload = try mapped { try client.createMultipartUpload(bucket: bucket, key: key, metadata: metadata, contentType: contentType(key)) }
        let etags = Mutex([String](repeating: "", count: count))
        let buffers = DispatchSemaphore(value: Self.uploadWidth)
        do {
            try parallelFor(count, width: Self.copyWidth) { [self] i in
                let part = Int64(i) * partSize..<min(size, Int64(i + 1) * partSize)
                let etag: String
                if !local.intersects(part) && part.upperBound <= base.size {
                    etag = try mapped {
                        try client.uploadPartCopy(bucket: bucket, key: key, uploadId: upload, number: i + 1, source: base.key,
                                                  range: part.lowerBound...(part.upperBound - 1), ifMatch: base.etag)
                    }
                } else {
                    buffers.wait()
                    defer { buffers.signal() }
                    let body = try assemble(part, path: path, local: local, base: base)
                    etag = try mapped { try client.uploadPart(bucket: bucket, key: key, uploadId: upload, number: i + 1, body: body) }
                }
                etags.withLock { $0[i] = etag }
            }
            let parts = etags.withLock { $0 }.enumerated().map { ($0.offset + 1, $0.element) }
            try mapped { try client.completeMultipartUpload(bucket: bucket, key: key, uploadId: upload, parts: parts) }
        } catch {
            try? client.abortMultipartUpload(bucket: bucket, key: key, uploadId: upload)
            throw error
        }
        return try head(key)
    }

    public func startUpload(_ key: String, metadata: [String: String]) throws -> String {
        try mapped { try client.createMultipartUpload(bucket: bucket, key: key, metadata: metadata, contentType: contentType(key)) }
    }

    /// A new object's Content-Type, from its name (see `MimeTypes`); a directory marker's is the
    /// engine's own.
    func contentType(_ key: String) -> String? {
        key.hasSuffix("/") ? nil : MimeTypes.system.type(forKey: key)
    }

    public func uploadPart(_ key: String, uploadId: String, number: Int, data: Data) throws -> String {
        try mapped { try client.uploadPart(bucket: bucket, key: key, uploadId: uploadId, number: number, body: data) }
    }

    @discardableResult
    public func completeUpload(_ key: String, uploadId: String, parts: [(Int, String)]) throws -> ObjectMeta {
        try mapped { try client.completeMultipartUpload(bucket: bucket, key: key, uploadId: uploadId, parts: parts) }
        return try head(key)
    }

    public func abortUpload(_ key: String, uploadId: String) {
        try? client.abortMultipartUpload(bucket: bucket, key: key, uploadId: uploadId)
    }

    public static let minimumPartSize: Int64 = 8 << 20
    public static let uploadWidth = 4
    /// Server-side part copies in flight at once (they hold no buffer here).
    public static let copyWidth = 8
    public static let multipartThreshold: Int64 = 32 << 20

    public func copy(from source: String, to destination: String, metadata: [String: String]?, retype: Bool) throws {
        guard let metadata else {
            return try mapped { try client.copy(bucket: bucket, from: source, to: destination) }
        }
        // S3 has no copy that replaces some metadata: what the object carries is read first and
        // given again, so a chmod does not strip another tool's keys or the object's headers.
        let current = try head(source)
        let kept = current.metadata.filter { !PosixAttributes.ownKeys.contains($0.key) }
        let type = retype ? contentType(destination) : current.contentType ?? contentType(destination)
        try mapped { try client.copy(bucket: bucket, from: source, to: destination, metadata: kept.merging(metadata) { _, new in new },
                                     contentType: type, representation: current.headers) }
    }

    /// One `?renameObject` request where the endpoint offers it (SeaweedFS 4.42+, the daemon); once
    /// it has said it does not, no more are sent.
    public func rename(from source: String, to destination: String) throws -> Bool {
        guard renames.withLock({ $0 }) != false else { return false }
        let done = try mapped { try client.rename(bucket: bucket, from: source, to: destination) }
        renames.withLock { $0 = $0 ?? done }
        return done
    }

    public func delete(_ key: String) throws {
        try mapped { try client.delete(bucket: bucket, key: key) }
    }

    public func list(prefix: String) throws -> StoreListing {
        var all = StoreListing()
        try listPages(prefix: prefix) { page in
            all.objects += page.objects
            all.prefixes += page.prefixes
            all.prefixMetadata.merge(page.prefixMetadata) { _, new in new }
        }
        return all
    }

    public func listPages(prefix: String, _ body: (StoreListing) throws -> Void) throws {
        var next: ListPage.Next? = .start
        while let from = next {
            let page = try listing { try client.list(bucket: bucket, prefix: prefix, delimiter: "/", continuationToken: from.token,
                                                     startAfter: from.startAfter, metadata: $0) }
            var listing = StoreListing(objects: page.objects, prefixes: page.commonPrefixes)
            listing.prefixMetadata = page.prefixMetadata
            try body(listing)
            next = page.next
        }
    }

    /// A listing request, asking for metadata while the endpoint takes the parameter; one that
    /// refuses it (400, 501) is asked again without, and never again with.
    private func listing<T>(_ body: (Bool) throws -> T) throws -> T {
        let asking = listsMetadata.withLock { $0 }
        do {
            return try mapped { try body(asking) }
        } catch let e as VFSError where asking {
            guard let cause = e.cause as? S3Error, cause.status == 400 || cause.status == 501 else { throw e }
            listsMetadata.withLock { $0 = false }
            return try mapped { try body(false) }
        }
    }

    public func listFirst(prefix: String, limit: Int) throws -> (listing: StoreListing, complete: Bool) {
        var listing = StoreListing()
        var next: ListPage.Next? = .start
        while let from = next, listing.objects.count + listing.prefixes.count < limit {
            let page = try self.listing {
                try client.list(bucket: bucket, prefix: prefix, delimiter: "/", continuationToken: from.token, startAfter: from.startAfter,
                                maxKeys: min(1000, limit - listing.objects.count - listing.prefixes.count), metadata: $0)
            }
            listing.objects += page.objects
            listing.prefixes += page.commonPrefixes
            listing.prefixMetadata.merge(page.prefixMetadata) { _, new in new }
            next = page.next
        }
        return (listing, next == nil)
    }

    /// The one place an S3 failure becomes a filesystem error.
    private func mapped<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as S3Error {
            throw Self.vfsError(e)
        }
    }

    static func vfsError(_ e: S3Error) -> VFSError {
        let code: VFSError.Code
        switch e.kind {
        case _ where e.isDaemonReadOnly: code = .readOnly
        case .notFound: code = .notFound
        case .accessDenied: code = .accessDenied
        case .preconditionFailed: code = .stale
        case .invalidRequest where e.code == "QuotaExceeded" || e.code == "EntityTooLarge": code = .noSpace
        default: code = .io
        }
        return VFSError(code, e.description, cause: e)
    }
}
