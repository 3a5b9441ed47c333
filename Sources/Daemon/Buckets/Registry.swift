import Foundation
import GRDB
import Synchronization

/// Buckets and grants: persisted in the state DB, served to the gateway from an in-memory snapshot
/// that every change replaces before it returns — so a revoke or a deny-all applies to the very
/// next request without a DB read on the hot path (ADR 0002).
public final class Registry: Sendable {
    public struct Snapshot: Sendable {
        public var buckets: [String: BucketRecord] = [:]
        public var grantsByKey: [String: GrantRecord] = [:]
    }

    public struct Limits: Sendable {
        public var maxActiveGrants = 20
        public var maxMintsPerHour = 50
        public init(maxActiveGrants: Int = 20, maxMintsPerHour: Int = 50) {
            self.maxActiveGrants = maxActiveGrants
            self.maxMintsPerHour = maxMintsPerHour
        }
    }

    let store: StateStore
    let now: @Sendable () -> Date
    let limits: Limits
    /// On a cluster: the buckets and grants every daemon of it shares. Each change is made there
    /// first, then here; `pullShared` brings in the changes of the other daemons.
    public let shared: SharedState?
    /// One change to the shared state at a time, and none while a pull is applied (a pull that
    /// listed the shared objects just before a local change must not undo it).
    let sharedGate = Mutex(())
    private let current = Mutex(Snapshot())

    public init(store: StateStore, limits: Limits = Limits(), shared: SharedState? = nil,
                now: @escaping @Sendable () -> Date = { Date() }) throws {
        self.store = store
        self.limits = limits
        self.shared = shared
        self.now = now
        try reload()
        if shared != nil { try pullShared() }
    }

    public var snapshot: Snapshot { current.withLock { $0 } }

    public func grant(accessKey: String) -> GrantRecord? { current.withLock { $0.grantsByKey[accessKey] } }
    public func bucket(_ name: String) -> BucketRecord? { current.withLock { $0.buckets[name] } }

    /// Re-reads everything from the DB into the snapshot.
    func reload() throws {
        let (buckets, grants) = try store.pool.read { db in
            (try Row.fetchAll(db, sql: "SELECT * FROM buckets").map(Self.bucket(from:)),
             try Row.fetchAll(db, sql: "SELECT * FROM grants").map(Self.grant(from:)))
        }
        var s = Snapshot()
        for b in buckets { s.buckets[b.name] = b }
        for g in grants { s.grantsByKey[g.accessKey] = g }
        current.withLock { $0 = s }
    }

    /// Runs `change` in one DB transaction (the pool serializes writers, so a limit checked inside
    /// holds), then refreshes the snapshot from what is committed.
    func change<T: Sendable>(_ change: (Database) throws -> T) throws -> T {
        let result = try store.pool.write { db in try change(db) }
        try reload()
        return result
    }

    // MARK: rows

    static func bucket(from r: Row) -> BucketRecord {
        BucketRecord(name: r["name"], createdAt: Date(timeIntervalSince1970: r["created_at"]),
                     expiresAt: (r["expires_at"] as Double?).map(Date.init(timeIntervalSince1970:)), ttl: r["ttl"],
                     quotaBytes: r["quota_bytes"], denyAllUntil: (r["deny_all_until"] as Double?).map(Date.init(timeIntervalSince1970:)))
    }

    static func grant(from r: Row) -> GrantRecord {
        let perms = (r["perms"] as String).split(separator: ",").compactMap { S3Operation.Permission(rawValue: String($0)) }
        return GrantRecord(id: r["id"], bucket: r["bucket"], label: r["label"], accessKey: r["access_key"], secretKey: r["secret_key"],
                           permissions: Set(perms), createdAt: Date(timeIntervalSince1970: r["created_at"]),
                           expiresAt: Date(timeIntervalSince1970: r["expires_at"]),
                           state: GrantView.State(rawValue: r["state"]) ?? .revoked,
                           revokedAt: (r["revoked_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
                           cleanupPending: r["cleanup_pending"])
    }

    static func allGrants(_ db: Database, bucket: String? = nil) throws -> [GrantRecord] {
        if let bucket {
            return try Row.fetchAll(db, sql: "SELECT * FROM grants WHERE bucket = ? ORDER BY created_at", arguments: [bucket]).map(grant(from:))
        }
        return try Row.fetchAll(db, sql: "SELECT * FROM grants ORDER BY created_at").map(grant(from:))
    }

    /// The schema of buckets, grants and traffic rollups.
    static func migrate(_ m: inout DatabaseMigrator) {
        m.registerMigration("v2-buckets-grants") { db in
            try db.execute(sql: """
                CREATE TABLE buckets (name TEXT PRIMARY KEY, created_at DOUBLE NOT NULL, expires_at DOUBLE, ttl TEXT NOT NULL,
                                      quota_bytes INTEGER, deny_all_until DOUBLE);
                CREATE TABLE grants (id TEXT PRIMARY KEY, bucket TEXT NOT NULL, label TEXT NOT NULL, access_key TEXT NOT NULL UNIQUE,
                                     secret_key TEXT NOT NULL, perms TEXT NOT NULL, created_at DOUBLE NOT NULL, expires_at DOUBLE NOT NULL,
                                     state TEXT NOT NULL, revoked_at DOUBLE, cleanup_pending BOOLEAN NOT NULL DEFAULT 0);
                CREATE INDEX grants_bucket ON grants(bucket);
                CREATE TABLE traffic (bucket TEXT NOT NULL, hour INTEGER NOT NULL, ops INTEGER NOT NULL, bytes_in INTEGER NOT NULL,
                                      bytes_out INTEGER NOT NULL, PRIMARY KEY (bucket, hour));
                """)
        }
        m.registerMigration("v3-workspaces") { db in
            // Managed workspaces whose grant the daemon keeps renewed (written into their credential cache).
            try db.execute(sql: "CREATE TABLE workspaces (name TEXT PRIMARY KEY, bucket TEXT NOT NULL, credentials_file TEXT NOT NULL)")
        }
        m.registerMigration("v4-retire") { db in
            // When a grant replaced by a rotation is revoked (after its grace period).
            try db.execute(sql: "ALTER TABLE grants ADD COLUMN retire_at DOUBLE")
        }
    }
}
