import Foundation

/// A bucket as the registry keeps it.
public struct BucketRecord: Codable, Sendable, Equatable {
    public var name: String
    public var createdAt: Date
    /// nil for `permanent`.
    public var expiresAt: Date?
    public var ttl: String
    /// nil for `unlimited`.
    public var quotaBytes: Int64?
    public var denyAllUntil: Date?

    public var view: BucketView { BucketView(name: name, expiresAt: expiresAt, denyAllUntil: denyAllUntil) }
}

/// A grant as the registry keeps it. The secret is kept only while the grant can still be used to
/// verify signatures; revoking erases it.
public struct GrantRecord: Sendable, Equatable {
    public var id: String
    public var bucket: String
    public var label: String
    public var accessKey: String
    public var secretKey: String
    public var permissions: Set<S3Operation.Permission>
    public var createdAt: Date
    public var expiresAt: Date
    public var state: GrantView.State
    public var revokedAt: Date?
    public var cleanupPending: Bool

    public var view: GrantView { GrantView(id: id, bucket: bucket, permissions: permissions, expiresAt: expiresAt, state: state) }
}

/// What `bucket grant --json` prints: the seed's envelope plus `scope`.
public struct GrantEnvelope: Codable, Sendable, Equatable {
    public var grantID: String
    public var accessKey: String
    public var secretKey: String
    public var endpointURL: String
    public var expiresAt: String
    public var scope: String

    enum CodingKeys: String, CodingKey {
        case grantID = "grant_id", accessKey = "access_key", secretKey = "secret_key", endpointURL = "endpoint_url"
        case expiresAt = "expires_at", scope
    }
}

/// A grant in listings: everything but the secret.
public struct GrantInfo: Codable, Sendable, Equatable {
    public var grantID: String
    public var bucket: String
    public var label: String
    public var accessKey: String
    public var permissions: String
    public var createdAt: String
    public var expiresAt: String
    /// active, expired, revoking or revoked.
    public var state: String
    public var cleanupPending: Bool

    enum CodingKeys: String, CodingKey {
        case grantID = "grant_id", bucket, label, accessKey = "access_key", permissions, createdAt = "created_at"
        case expiresAt = "expires_at", state, cleanupPending = "cleanup_pending"
    }
}

/// Traffic of one bucket over a window.
public struct TrafficWindow: Codable, Sendable, Equatable {
    public var ops: Int64
    public var bytesIn: Int64
    public var bytesOut: Int64

    public init(ops: Int64 = 0, bytesIn: Int64 = 0, bytesOut: Int64 = 0) {
        self.ops = ops
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
    }

    enum CodingKeys: String, CodingKey { case ops, bytesIn = "bytes_in", bytesOut = "bytes_out" }
}

/// `bucket list --json` / `bucket info --json`.
public struct BucketInfo: Codable, Sendable, Equatable {
    public var name: String
    public var createdAt: String
    public var expiresAt: String?
    public var ttl: String
    public var quota: String
    public var quotaBytes: Int64?
    public var usedBytes: Int64
    public var objects: Int64
    public var denyAllUntil: String?
    public var activeGrants: [GrantInfo]
    public var traffic: [String: TrafficWindow]

    enum CodingKeys: String, CodingKey {
        case name, createdAt = "created_at", expiresAt = "expires_at", ttl, quota, quotaBytes = "quota_bytes"
        case usedBytes = "used_bytes", objects, denyAllUntil = "deny_all_until", activeGrants = "active_grants", traffic
    }
}

/// The result of `bucket expire` (or its dry run).
public struct ExpireReport: Codable, Sendable, Equatable {
    public var buckets: [String]
    public var dryRun: Bool
    public var deletedObjects: Int
    public var revokedGrants: Int

    enum CodingKeys: String, CodingKey { case buckets, dryRun = "dry_run", deletedObjects = "deleted_objects", revokedGrants = "revoked_grants" }
}
