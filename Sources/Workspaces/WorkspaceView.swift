import Credentials
import Daemon
import Foundation
import S3

/// A workspace as `workspace list/show` (and their JSON) show it: storage, status, mounts, credentials.
public struct WorkspaceView: Codable, Sendable {
    public struct Storage: Codable, Sendable { public var bucket: String; public var endpoint: String; public var region: String; public var prefix: String }
    public struct Mount: Codable, Sendable { public var mountpoint: String; public var pid: Int32 }
    public var id: String
    public var kind: String
    public var storage: Storage
    public var status: String
    public var mounts: [Mount]
    public var credentialSource: String
    public var accessKey: String?
    public var credentialExpiresAt: String?
    public var createdAt: String

    enum CodingKeys: String, CodingKey {
        case id, kind, storage, status, mounts, credentialSource = "credential_source", accessKey = "access_key"
        case credentialExpiresAt = "credential_expires_at", createdAt = "created_at"
    }

    /// `records`: this host's mounts, read once for all the workspaces shown; `buckets`: the local
    /// daemon's (nil: unknown). A managed workspace whose bucket is past its TTL is `deleting`
    /// (the daemon is expiring it), one whose bucket is gone `deleted`.
    public init(_ r: WorkspaceRecord, _ w: WorkspaceHost, records: [WorkspaceHost.MountRecord], buckets: [String: BucketInfo]? = nil) {
        let creds = try? w.store.loadCredentials(r.name)
        let mine = records.filter { $0.workspace == r.name }
        let mounts = mine.filter(\.alive)
        id = r.name
        kind = r.kind.rawValue
        storage = Storage(bucket: r.bucket, endpoint: r.endpoint, region: r.region, prefix: r.prefix)
        self.mounts = mounts.map { Mount(mountpoint: $0.mountpoint, pid: $0.pid) }
        status = !mounts.isEmpty ? "mounted" : mine.contains(where: \.stale) ? "stale" : "active"
        if r.kind == .managed, let buckets {
            if let b = buckets[r.bucket] {
                if let end = b.expiresAt.flatMap(UTCTime.parseISO8601), end <= Date() { status = "deleting" }
                // Its grant is no longer active although it has not run out: an operator revoked it
                // (renewal leaves it so; `workspace rotate` issues a new one).
                else if let id = creds?.grantID, !b.activeGrants.contains(where: { $0.grantID == id }),
                        let end = creds?.expiresAt.flatMap(UTCTime.parseISO8601), end > Date() { status = "revoked" }
            } else {
                status = "deleted"
            }
        }
        credentialSource = creds?.source ?? (WorkspaceHost.environmentCredentials() != nil ? "environment (ARTIFACTS_S3_*)" : "none")
        accessKey = creds.map { CachedCredentials.mask($0.accessKeyID) }
        credentialExpiresAt = creds?.expiresAt
        createdAt = r.createdAt
    }
}

extension WorkspaceHost {
    /// The workspaces as `workspace list/show` show them; this host's mounts and (with
    /// `daemonState`) the local daemon's buckets are read once for all of them.
    public func views(_ records: [WorkspaceRecord], daemonState: Bool = true) throws -> [WorkspaceView] {
        let mounts = try mountRecords()
        let buckets = daemonState ? daemonBuckets(for: records) : nil
        return records.map { WorkspaceView($0, self, records: mounts, buckets: buckets) }
    }

    public func view(_ record: WorkspaceRecord, daemonState: Bool = true) throws -> WorkspaceView {
        try views([record], daemonState: daemonState)[0]
    }
}
