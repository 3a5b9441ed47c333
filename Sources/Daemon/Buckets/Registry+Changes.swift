import Foundation
import GRDB
import S3

/// The registry's changes. Each validates first, writes one transaction, and refreshes the snapshot.
extension Registry {
    // MARK: buckets

    public func insertBucket(_ spec: BucketSpec) throws -> BucketRecord {
        let t = now()
        var expires: Date?
        if case .seconds(let s) = spec.ttl { expires = t.addingTimeInterval(Double(s)) }
        var quota: Int64?
        if case .bytes(let b) = spec.quota { quota = b }
        let record = BucketRecord(name: spec.name, createdAt: t, expiresAt: expires, ttl: spec.ttl.description, quotaBytes: quota, denyAllUntil: nil)
        if let shared {
            try sharedInsertBucket(shared, record)
            return record
        }
        try change { db in
            try db.execute(sql: "INSERT INTO buckets (name, created_at, expires_at, ttl, quota_bytes) VALUES (?, ?, ?, ?, ?)",
                           arguments: [record.name, t.timeIntervalSince1970, expires?.timeIntervalSince1970, record.ttl, quota])
        }
        return record
    }

    public func requireBucket(_ name: String) throws -> BucketRecord {
        guard let b = bucket(name) else {
            throw DaemonError(.usage, "no bucket named \"\(name.prefix(80))\"", fix: "see `garagetytus bucket list`")
        }
        return b
    }

    public func setDenyAll(_ name: String, until: Date?) throws {
        _ = try requireBucket(name)
        if let shared { return try sharedUpdateBucket(shared, name) { $0.denyAllUntil = until } }
        try change { db in
            try db.execute(sql: "UPDATE buckets SET deny_all_until = ? WHERE name = ?", arguments: [until?.timeIntervalSince1970, name])
        }
    }

    public func removeBucket(_ name: String) throws {
        if let shared { return try sharedRemoveBucket(shared, name) }
        try change { db in
            try db.execute(sql: "DELETE FROM buckets WHERE name = ?", arguments: [name])
            try db.execute(sql: "DELETE FROM traffic WHERE bucket = ?", arguments: [name])
        }
    }

    /// Moves an expiry: a rotation's grace period, and tests (the test hook needs GARAGETYTUS_TEST_HOOKS=1).
    public func setExpiry(bucket: String?, grant: String?, at: Date) throws {
        if let shared {
            if let bucket { try sharedUpdateBucket(shared, bucket) { $0.expiresAt = at } }
            if let grant { _ = try sharedUpdateGrant(shared, grant) { $0.expiresAt = at } }
            return
        }
        try change { db in
            if let bucket { try db.execute(sql: "UPDATE buckets SET expires_at = ? WHERE name = ?", arguments: [at.timeIntervalSince1970, bucket]) }
            if let grant { try db.execute(sql: "UPDATE grants SET expires_at = ? WHERE id = ?", arguments: [at.timeIntervalSince1970, grant]) }
        }
    }

    // MARK: grants

    /// Mints a grant within the rate limits; the secret is returned once, here.
    public func mint(_ spec: GrantSpec) throws -> GrantRecord {
        let t = now()
        _ = try requireBucket(spec.bucket)  // a grant outliving its bucket dies with it (Policy)
        var rng = SystemRandomNumberGenerator()
        func hex(_ n: Int) -> String { String((0..<n).map { _ in "0123456789abcdef".randomElement(using: &rng)! }) }
        let day = String(UTCTime.amzDate(t).prefix(8))
        let record = GrantRecord(id: "g_\(day)_\(hex(8))", bucket: spec.bucket, label: spec.label, accessKey: "GK" + hex(24),
                                 secretKey: hex(64), permissions: spec.permissions, createdAt: t,
                                 expiresAt: t.addingTimeInterval(Double(spec.ttlSeconds)), state: .active, revokedAt: nil, cleanupPending: false)
        if let shared {
            try sharedMint(shared, record)
            return record
        }
        try change { db in
            let active = try Row.fetchAll(db, sql: "SELECT expires_at FROM grants WHERE state = 'active' AND expires_at > ? ORDER BY expires_at",
                                          arguments: [t.timeIntervalSince1970]).map { Date(timeIntervalSince1970: $0[0]) }
            if active.count >= limits.maxActiveGrants {
                throw Self.activeLimit(limits.maxActiveGrants, nextFree: active[0].timeIntervalSince1970)
            }
            let recent = try Row.fetchAll(db, sql: "SELECT created_at FROM grants WHERE created_at > ? ORDER BY created_at",
                                          arguments: [t.timeIntervalSince1970 - 3600]).map { Date(timeIntervalSince1970: $0[0]) }
            if recent.count >= limits.maxMintsPerHour {
                throw Self.mintLimit(limits.maxMintsPerHour, nextFree: recent[0].timeIntervalSince1970 + 3600)
            }
            try db.execute(sql: """
                INSERT INTO grants (id, bucket, label, access_key, secret_key, perms, created_at, expires_at, state, cleanup_pending)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', 0)
                """, arguments: [record.id, record.bucket, record.label, record.accessKey, record.secretKey,
                                 GrantSpec.permissionsText(record.permissions), t.timeIntervalSince1970, record.expiresAt.timeIntervalSince1970])
        }
        return record
    }

    static func activeLimit(_ max: Int, nextFree: Double?) -> DaemonError {
        DaemonError(.failed, "limit reached: at most \(max) active grants\(nextFree.map { "; the next frees up at \(Policy.stamp(Date(timeIntervalSince1970: $0)))" } ?? "")",
                    fix: "revoke a grant you no longer need (`garagetytus bucket grants`)")
    }

    static func mintLimit(_ max: Int, nextFree: Double?) -> DaemonError {
        DaemonError(.failed, "limit reached: at most \(max) grant creations per hour\(nextFree.map { "; the next frees up at \(Policy.stamp(Date(timeIntervalSince1970: $0)))" } ?? "")",
                    fix: "wait, or raise grants.max_mints_per_hour in garagetytus.toml")
    }

    public func grants(bucket: String? = nil) throws -> [GrantRecord] {
        try store.pool.read { db in try Self.allGrants(db, bucket: bucket) }
    }

    /// active → revoking, recorded before anything else: the gateway refuses the key from here on.
    public func beginRevoke(_ id: String) throws -> GrantRecord {
        if let shared {
            let t = now()
            return try sharedUpdateGrant(shared, id) { g in
                guard g.state == .active else { throw Self.notActive(g) }
                g.state = .revoking
                g.revokedAt = t
            }
        }
        return try change { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM grants WHERE id = ?", arguments: [id]) else {
                throw DaemonError(.usage, "no grant with id \"\(id.prefix(80))\"", fix: "see `garagetytus bucket grants`")
            }
            var g = Self.grant(from: row)
            guard g.state == .active else { throw Self.notActive(g) }
            g.state = .revoking
            g.revokedAt = now()
            try db.execute(sql: "UPDATE grants SET state = 'revoking', revoked_at = ? WHERE id = ?", arguments: [g.revokedAt!.timeIntervalSince1970, id])
            return g
        }
    }

    static func notActive(_ g: GrantRecord) -> DaemonError {
        DaemonError(.usage, "grant \(g.id) is already \(g.state.rawValue)\(g.revokedAt.map { " (since \(Policy.stamp($0)))" } ?? "")")
    }

    /// revoking → revoked once cleanup succeeded (the secret is erased); otherwise marked pending.
    public func finishRevoke(_ id: String, cleanedUp: Bool) throws {
        if let shared, cleanedUp {
            _ = try sharedUpdateGrant(shared, id) { g in
                g.state = .revoked
                g.secretKey = ""
            }
        }
        try change { db in
            if cleanedUp {
                try db.execute(sql: "UPDATE grants SET state = 'revoked', secret_key = '', cleanup_pending = 0 WHERE id = ?", arguments: [id])
            } else {
                try db.execute(sql: "UPDATE grants SET cleanup_pending = 1 WHERE id = ?", arguments: [id])
            }
        }
    }

    /// Marks an active grant to be revoked at `at` (a rotation's grace period).
    public func setRetirement(grant id: String, at: Date) throws {
        try change { db in
            try db.execute(sql: "UPDATE grants SET retire_at = ? WHERE id = ? AND state = 'active'", arguments: [at.timeIntervalSince1970, id])
        }
    }

    /// Active grants whose retirement time has come.
    public func dueRetirements(at now: Date) throws -> [String] {
        try store.pool.read { db in
            try String.fetchAll(db, sql: "SELECT id FROM grants WHERE state = 'active' AND retire_at IS NOT NULL AND retire_at <= ?",
                                arguments: [now.timeIntervalSince1970])
        }
    }

    /// Grants stuck in `revoking` (their cleanup failed or the daemon stopped mid-way).
    public func pendingRevokes() throws -> [GrantRecord] {
        try store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM grants WHERE state = 'revoking'").map(Self.grant(from:))
        }
    }

    /// Deletes the grants that ended before `cutoff` — revoked (and cleaned up), or expired — from
    /// the cluster's shared state first, then here; their ids. Without it every grant ever minted
    /// stays in the snapshot and, on a cluster, in every daemon's pull. A key of a deleted grant
    /// is unknown, so refused as before. A managed workspace's grant that merely expired stays:
    /// its daemon renews it when it runs again, however long it was down (it is revoked, so
    /// deleted later, once replaced).
    public func pruneEnded(before cutoff: Date) throws -> [String] {
        let t = cutoff.timeIntervalSince1970
        let ids = try store.pool.read { db in
            try String.fetchAll(db, sql: """
                SELECT id FROM grants WHERE cleanup_pending = 0 AND state != 'revoking'
                    AND ((expires_at < ? AND label NOT LIKE 'workspace:%') OR (state = 'revoked' AND revoked_at < ?))
                """, arguments: [t, t])
        }
        guard !ids.isEmpty else { return [] }
        if let shared {
            try sharedGate.withLock { _ in for id in ids { try shared.deleteGrant(id) } }
        }
        try change { db in
            for id in ids { try db.execute(sql: "DELETE FROM grants WHERE id = ?", arguments: [id]) }
        }
        return ids
    }

    // MARK: managed workspaces

    public func registerWorkspace(name: String, bucket: String, credentialsFile: String) throws {
        try store.pool.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO workspaces (name, bucket, credentials_file) VALUES (?, ?, ?)",
                           arguments: [name, bucket, credentialsFile])
        }
    }

    public func unregisterWorkspace(name: String) throws {
        try store.pool.write { db in try db.execute(sql: "DELETE FROM workspaces WHERE name = ?", arguments: [name]) }
    }

    /// Registered workspaces; their caches are where the workspace layer's store puts them (the column keeps
    /// the path the CLI registered, which `registerWorkspace` checks is that one).
    public func workspaces() throws -> [(name: String, bucket: String)] {
        try store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT name, bucket FROM workspaces").map { ($0[0], $0[1]) }
        }
    }

    // MARK: traffic

    /// Adds per-bucket counts to the hourly rollup.
    public func addTraffic(_ counts: [String: TrafficWindow], at: Date) throws {
        guard !counts.isEmpty else { return }
        let hour = Int64(at.timeIntervalSince1970 / 3600)
        try store.pool.write { db in
            for (bucket, w) in counts {
                try db.execute(sql: """
                    INSERT INTO traffic (bucket, hour, ops, bytes_in, bytes_out) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT(bucket, hour) DO UPDATE SET ops = ops + excluded.ops, bytes_in = bytes_in + excluded.bytes_in,
                                                            bytes_out = bytes_out + excluded.bytes_out
                    """, arguments: [bucket, hour, w.ops, w.bytesIn, w.bytesOut])
            }
            try db.execute(sql: "DELETE FROM traffic WHERE hour < ?", arguments: [hour - 24 * 8])
        }
    }

    /// Ops and bytes of the last 1h, 24h and 7d (whole hours, the current one included).
    public func traffic(bucket: String) throws -> [String: TrafficWindow] {
        let hour = Int64(now().timeIntervalSince1970 / 3600)
        return try store.pool.read { db in
            var out: [String: TrafficWindow] = [:]
            for (name, hours) in [("1h", Int64(1)), ("24h", 24), ("7d", 168)] {
                let r = try Row.fetchOne(db, sql: "SELECT COALESCE(SUM(ops),0), COALESCE(SUM(bytes_in),0), COALESCE(SUM(bytes_out),0) FROM traffic WHERE bucket = ? AND hour > ?",
                                         arguments: [bucket, hour - hours])
                out[name] = TrafficWindow(ops: r?[0] ?? 0, bytesIn: r?[1] ?? 0, bytesOut: r?[2] ?? 0)
            }
            return out
        }
    }
}
