import Credentials
import Foundation
import Logging
import S3
import Synchronization

/// Bucket and grant lifecycle: the registry's changes together with the engine's work and the
/// audit trail. The control API and the janitor both go through here.
public final class BucketService: Sendable {
    let registry: Registry
    let engine: any StorageEngine
    let usage: UsageTracker
    let audit: AuditLog
    let endpointURL: String
    let logger: Logger
    /// Managed workspaces' credential caches, where renewed grants are written.
    let workspaces: any WorkspaceCaches
    /// Workspace grants renewal left alone and already said so (logged once, not every pass).
    let renewalNotices = Mutex<Set<String>>([])
    /// On a cluster: the state bucket, which no bucket of garagetytus's may be.
    let reservedBucket: String?

    public init(registry: Registry, engine: any StorageEngine, usage: UsageTracker, audit: AuditLog, endpointURL: String, logger: Logger,
                workspaces: any WorkspaceCaches, reservedBucket: String? = nil) {
        self.reservedBucket = reservedBucket
        self.registry = registry
        self.engine = engine
        self.usage = usage
        self.audit = audit
        self.endpointURL = endpointURL
        self.logger = logger
        self.workspaces = workspaces
    }

    var now: Date { registry.now() }

    public func create(_ spec: BucketSpec) async throws -> BucketInfo {
        if spec.name == reservedBucket {
            throw DaemonError(.usage, "bucket \(spec.name) is where the daemons of the cluster share buckets and grants (engine.state_bucket)",
                              fix: "choose another name")
        }
        if registry.bucket(spec.name) != nil {
            throw DaemonError(.usage, "bucket \(spec.name) already exists", fix: "see `garagetytus bucket info \(spec.name)`")
        }
        // Recorded first: on a cluster, the record is what decides which daemon makes the bucket.
        let record = try registry.insertBucket(spec)
        do {
            try await engine.createBucket(spec.name)
        } catch {
            try? registry.removeBucket(spec.name)
            throw error
        }
        usage.scanned(bucket: spec.name, usage: BucketUsage(bytes: 0, objects: 0), storedBefore: 0)
        audit.record("bucket_created", [("bucket", spec.name), ("ttl", record.ttl), ("quota", spec.quota.description)])
        return try snapshotInfo(spec.name)
    }

    public func list() async throws -> [BucketInfo] {
        var out: [BucketInfo] = []
        for name in registry.snapshot.buckets.keys.sorted() { out.append(try await info(name)) }
        return out
    }

    /// The bucket with usage counted now (an operator asks; the quota path uses the tracker).
    public func info(_ name: String) async throws -> BucketInfo {
        _ = try registry.requireBucket(name)
        let before = usage.storedSinceScan(bucket: name)
        if let u = try? await engine.bucketUsage(name) { usage.scanned(bucket: name, usage: u, storedBefore: before) }
        return try snapshotInfo(name)
    }

    func snapshotInfo(_ name: String) throws -> BucketInfo {
        let b = try registry.requireBucket(name)
        let u = usage.usage(bucket: name)
        let t = now
        let active = try registry.grants(bucket: name).filter { $0.state == .active && $0.expiresAt > t }.map(grantInfo)
        return BucketInfo(name: b.name, createdAt: Policy.stamp(b.createdAt), expiresAt: b.expiresAt.map(Policy.stamp), ttl: b.ttl,
                          quota: b.quotaBytes.map { BucketSpec.sizeText($0) } ?? "unlimited", quotaBytes: b.quotaBytes,
                          usedBytes: u.bytes, objects: u.objects,
                          denyAllUntil: b.denyAllUntil.flatMap { $0 > t ? Policy.stamp($0) : nil },
                          activeGrants: active, traffic: try registry.traffic(bucket: name))
    }

    public func denyAll(_ name: String, ttl: String) throws -> BucketInfo {
        guard case .seconds(let s) = try BucketSpec.parseTTL(ttl) else {
            throw DaemonError(.usage, "deny-all cannot be permanent", fix: "use one of 30m, 1h, 24h or 7d; `allow` lifts it early")
        }
        let until = now.addingTimeInterval(Double(s))
        try registry.setDenyAll(name, until: until)
        audit.record("bucket_deny_all", [("bucket", name), ("until", Policy.stamp(until))])
        return try snapshotInfo(name)
    }

    public func allow(_ name: String, reason: String = "allow") throws -> BucketInfo {
        try registry.setDenyAll(name, until: nil)
        audit.record("bucket_allow", [("bucket", name), ("reason", reason)])
        return try snapshotInfo(name)
    }

    /// Expires one bucket now, or every bucket whose TTL passed (`name` nil); a dry run lists them.
    /// `progress` hears what is being done (deleted objects of the total); the CLI shows it on a terminal.
    public func expire(_ name: String?, dryRun: Bool, progress: (@Sendable (String) -> Void)? = nil) async throws -> ExpireReport {
        let t = now
        let due: [String]
        if let name {
            _ = try registry.requireBucket(name)
            due = [name]
        } else {
            due = registry.snapshot.buckets.values.filter { $0.expiresAt.map { $0 <= t } ?? false }.map(\.name).sorted()
        }
        var report = ExpireReport(buckets: due, dryRun: dryRun, deletedObjects: 0, revokedGrants: 0)
        if dryRun { return report }
        for bucket in due {
            // deny-all first: no presigned URL races the delete.
            try registry.setDenyAll(bucket, until: Date.distantFuture)
            for g in try registry.grants(bucket: bucket) where g.state == .active {
                _ = try await revoke(g.id, why: "bucket expired")
                report.revokedGrants += 1
            }
            // The total is counted (a listing) only for someone following the progress.
            let total = progress == nil ? nil : (try? await engine.bucketUsage(bucket))?.objects
            progress?("expire \(bucket): deleting objects\(total.map { " (\($0))" } ?? "")")
            report.deletedObjects += try await engine.emptyBucket(bucket) { n in
                progress?("expire \(bucket): deleted \(n)\(total.map { " of \($0)" } ?? "") objects")
            }
            try await engine.deleteBucket(bucket)
            try registry.removeBucket(bucket)
            usage.forget(bucket: bucket)
            audit.record("bucket_expired", [("bucket", bucket), ("objects_deleted", "\(report.deletedObjects)")])
            logger.notice("bucket \(bucket) expired and deleted")
        }
        return report
    }

    public func mint(_ spec: GrantSpec) throws -> GrantEnvelope {
        let g = try registry.mint(spec)
        audit.record("grant_minted", [("grant_id", g.id), ("bucket", g.bucket), ("to", g.label), ("access_key", g.accessKey),
                                      ("perms", GrantSpec.permissionsText(g.permissions)), ("expires_at", Policy.stamp(g.expiresAt))])
        return GrantEnvelope(grantID: g.id, accessKey: g.accessKey, secretKey: g.secretKey, endpointURL: endpointURL,
                             expiresAt: Policy.stamp(g.expiresAt), scope: "s3/bucket:\(g.bucket)")
    }

    /// active → revoking (recorded; refused from now on) → revoked once cleanup is done.
    /// Returns whether cleanup is still pending.
    public func revoke(_ id: String, why: String = "revoked by operator") async throws -> GrantInfo {
        let g = try registry.beginRevoke(id)
        audit.record("grant_revoked", [("grant_id", g.id), ("bucket", g.bucket), ("why", why)])
        let clean = await cleanUp(g)
        if !clean { audit.record("grant_cleanup_pending", [("grant_id", g.id)]) }
        return grantInfo(try registry.grants(bucket: g.bucket).first { $0.id == id } ?? g)
    }

    /// Revokes an active grant `seconds` from now (a rotation's grace period for live clients);
    /// the janitor carries it out.
    public func retire(_ id: String, in seconds: Double) throws -> GrantInfo {
        guard seconds >= 0, seconds <= 7 * 86400 else { throw DaemonError(.usage, "a grace period must be between 0 s and 7 days") }
        guard let g = try registry.grants().first(where: { $0.id == id }) else {
            throw DaemonError(.usage, "no grant with id \"\(id.prefix(80))\"", fix: "see `garagetytus bucket grants`")
        }
        guard g.state == .active else { throw DaemonError(.usage, "grant \(id) is already \(g.state.rawValue)") }
        let at = now.addingTimeInterval(seconds)
        try registry.setRetirement(grant: id, at: at)
        audit.record("grant_retiring", [("grant_id", id), ("revoke_at", Policy.stamp(at))])
        return grantInfo(try registry.grants(bucket: g.bucket).first { $0.id == id } ?? g)
    }

    /// Revokes the grants whose retirement time has come; the janitor calls it every tick.
    public func revokeRetired() async {
        for id in (try? registry.dueRetirements(at: now)) ?? [] {
            _ = try? await revoke(id, why: "replaced by a rotation")
        }
    }

    /// Finishes revokes whose cleanup failed before; the janitor calls it every 60 s.
    public func retryPendingRevokes() async {
        for g in (try? registry.pendingRevokes()) ?? [] {
            if await cleanUp(g) { audit.record("grant_cleanup_done", [("grant_id", g.id)]) }
        }
    }

    /// The backend side of a revoke: the gateway holds the only copy of a grant's secret, so
    /// erasing it is the cleanup; a failure is retried by the janitor.
    private func cleanUp(_ g: GrantRecord) async -> Bool {
        do {
            try registry.finishRevoke(g.id, cleanedUp: true)
            return true
        } catch {
            logger.warning("revoke cleanup of \(g.id) failed, will retry: \(error)")
            try? registry.finishRevoke(g.id, cleanedUp: false)
            return false
        }
    }

    public func grants(bucket: String?) throws -> [GrantInfo] {
        if let bucket { _ = try registry.requireBucket(bucket) }
        return try registry.grants(bucket: bucket).map(grantInfo)
    }

    func grantInfo(_ g: GrantRecord) -> GrantInfo {
        let state = g.state == .active && g.expiresAt <= now ? "expired" : g.state.rawValue
        return GrantInfo(grantID: g.id, bucket: g.bucket, label: g.label, accessKey: g.accessKey, permissions: GrantSpec.permissionsText(g.permissions),
                         createdAt: Policy.stamp(g.createdAt), expiresAt: Policy.stamp(g.expiresAt), state: state, cleanupPending: g.cleanupPending)
    }
}
