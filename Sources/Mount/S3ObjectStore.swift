import Foundation
import S3

/// `ObjectStore` over an S3 bucket through `S3Client`.
public final class S3ObjectStore: ObjectStore {
    public let client: S3Client
    public let bucket: String

    public init(client: S3Client, bucket: String) {
        self.client = client
        self.bucket = bucket
    }

    public func head(_ key: String) throws -> ObjectMeta {
        let info = try mapped { try client.head(bucket: bucket, key: key) }
        return ObjectMeta(key: key, size: info.size, etag: info.etag, lastModified: info.lastModified, userMetadata: info.metadata)
    }

    public func read(_ key: String, range: Range<Int64>, etag: String?) throws -> Data {
        guard !range.isEmpty else { return Data() }
        return try mapped { try client.get(bucket: bucket, key: key, range: range.lowerBound...(range.upperBound - 1), ifMatch: etag) }
    }

    @discardableResult
    public func put(_ key: String, data: Data, metadata: [String: String]) throws -> ObjectMeta {
        let etag = try mapped { try client.put(bucket: bucket, key: key, body: data, metadata: metadata) }
        return ObjectMeta(key: key, size: Int64(data.count), etag: etag, lastModified: Date(), userMetadata: metadata)
    }

    public func copy(from source: String, to destination: String, metadata: [String: String]?) throws {
        try mapped { try client.copy(bucket: bucket, from: source, to: destination, metadata: metadata) }
    }

    public func delete(_ key: String) throws {
        try mapped { try client.delete(bucket: bucket, key: key) }
    }

    public func list(prefix: String) throws -> StoreListing {
        let page = try mapped { try client.listAll(bucket: bucket, prefix: prefix, delimiter: "/") }
        return StoreListing(objects: page.objects.map { ObjectMeta(key: $0.key, size: $0.size, etag: $0.etag, lastModified: $0.lastModified) },
                            prefixes: page.commonPrefixes)
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
        case .notFound: code = .notFound
        case .accessDenied: code = .accessDenied
        case .preconditionFailed: code = .stale
        case .invalidRequest where e.code == "QuotaExceeded" || e.code == "EntityTooLarge": code = .noSpace
        default: code = .io
        }
        return VFSError(code, e.description, cause: e)
    }
}
