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
        try mapped { try client.head(bucket: bucket, key: key) }
    }

    public func read(_ key: String, range: Range<Int64>, etag: String?) throws -> Data {
        guard !range.isEmpty else { return Data() }
        return try mapped { try client.get(bucket: bucket, key: key, range: range.lowerBound...(range.upperBound - 1), ifMatch: etag) }
    }

    @discardableResult
    public func put(_ key: String, data: Data, metadata: [String: String]) throws -> ObjectMeta {
        let etag = try mapped { try client.put(bucket: bucket, key: key, body: data, metadata: metadata) }
        return ObjectMeta(key: key, size: Int64(data.count), etag: etag, lastModified: Date(), metadata: metadata)
    }

    /// Whole-object PUT up to `multipartThreshold`, multipart above (parts of at least 16 MiB, at
    /// most 10 000 of them, so files beyond 5 GiB work).
    @discardableResult
    public func putFile(_ key: String, path: String, metadata: [String: String]) throws -> ObjectMeta {
        guard let fh = FileHandle(forReadingAtPath: path) else { throw VFSError(.io, "cannot read staging file \(path)") }
        defer { try? fh.close() }
        let size = Int64((try? fh.seekToEnd()) ?? 0)
        try? fh.seek(toOffset: 0)
        if size <= Self.multipartThreshold {
            return try put(key, data: fh.readData(ofLength: Int(size)), metadata: metadata)
        }
        let partSize = max(Int64(16 << 20), (size + 9_999) / 10_000)
        let upload = try mapped { try client.createMultipartUpload(bucket: bucket, key: key, metadata: metadata) }
        do {
            var parts: [(Int, String)] = []
            var offset: Int64 = 0
            while offset < size {
                let chunk = fh.readData(ofLength: Int(min(partSize, size - offset)))
                guard !chunk.isEmpty else { throw VFSError(.io, "staging file \(path) shrank during upload") }
                let number = parts.count + 1
                parts.append((number, try mapped { try client.uploadPart(bucket: bucket, key: key, uploadId: upload, number: number, body: chunk) }))
                offset += Int64(chunk.count)
            }
            try mapped { try client.completeMultipartUpload(bucket: bucket, key: key, uploadId: upload, parts: parts) }
        } catch {
            try? client.abortMultipartUpload(bucket: bucket, key: key, uploadId: upload)
            throw error
        }
        return try head(key)
    }

    public static let multipartThreshold: Int64 = 32 << 20

    public func copy(from source: String, to destination: String, metadata: [String: String]?) throws {
        try mapped { try client.copy(bucket: bucket, from: source, to: destination, metadata: metadata) }
    }

    public func delete(_ key: String) throws {
        try mapped { try client.delete(bucket: bucket, key: key) }
    }

    public func list(prefix: String) throws -> StoreListing {
        let page = try mapped { try client.listAll(bucket: bucket, prefix: prefix, delimiter: "/") }
        return StoreListing(objects: page.objects, prefixes: page.commonPrefixes)
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
