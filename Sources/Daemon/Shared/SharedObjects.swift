import Foundation
import S3

/// Where the daemons of one cluster keep their buckets and grants: small objects that the
/// engine writes conditionally (ADR 0004). Conditional writes are what makes two daemons
/// agree without a lock service: `create` stores only if nothing is there (`If-None-Match: *`),
/// `replace` only if the object is still the version that was read (`If-Match`); the engine
/// serializes both per object and answers the loser 412.
public protocol SharedObjects: Sendable {
    /// Every object under `prefix`, with its ETag (unquoted).
    func list(prefix: String) throws -> [String: String]
    /// The object and its ETag, or nil when there is none.
    func get(_ key: String) throws -> (data: Data, etag: String)?
    /// Stores `data` only if `key` does not exist; false when it does.
    func create(_ key: String, _ data: Data) throws -> Bool
    /// Stores `data` only if `key` is still at `etag`; false when it changed or is gone.
    func replace(_ key: String, _ data: Data, ifMatch etag: String) throws -> Bool
    func delete(_ key: String) throws
}

/// The shared objects in a reserved bucket of the cluster's S3 server, with its admin identity.
public struct S3SharedObjects: SharedObjects {
    let client: S3Client
    let bucket: String

    public init(client: S3Client, bucket: String) {
        self.client = client
        self.bucket = bucket
    }

    public func list(prefix: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for o in try client.listAll(bucket: bucket, prefix: prefix).objects where !o.key.hasSuffix("/") {
            // Without an ETag in the listing, the object is read every time.
            out[o.key] = o.etag.map(ETag.unquoted) ?? UUID().uuidString
        }
        return out
    }

    public func get(_ key: String) throws -> (data: Data, etag: String)? {
        do {
            let r = try client.send("GET", bucket: bucket, key: key, operation: "GetObject \(bucket)/\(key)")
            return (r.body, ETag.unquoted(r.header("ETag") ?? ""))
        } catch let e as S3Error where e.kind == .notFound {
            return nil
        }
    }

    public func create(_ key: String, _ data: Data) throws -> Bool {
        try conditionalPut(key, data, ("If-None-Match", "*"))
    }

    public func replace(_ key: String, _ data: Data, ifMatch etag: String) throws -> Bool {
        try conditionalPut(key, data, ("If-Match", "\"\(etag)\""))
    }

    public func delete(_ key: String) throws {
        try client.delete(bucket: bucket, key: key)
    }

    /// A retried conditional PUT can find its own first attempt stored and be answered 412:
    /// the caller then reads the object back and compares (every record carries what makes it
    /// its writer's own, see `SharedState`).
    private func conditionalPut(_ key: String, _ data: Data, _ condition: (String, String)) throws -> Bool {
        do {
            _ = try client.send("PUT", bucket: bucket, key: key, headers: [condition], body: data, operation: "PutObject \(bucket)/\(key)")
            return true
        } catch let e as S3Error where e.kind == .preconditionFailed || (e.kind == .notFound && condition.0 == "If-Match") {
            return false
        }
    }
}
