import Foundation
import GRDB

/// The registry on a cluster: every change goes to the shared state first (conditionally, so no
/// daemon's change is lost to another's), then into the local DB, which is a copy of the shared
/// state that `pullShared` keeps current.
extension Registry {
    /// Brings the local copy in line with the shared state; whether anything changed.
    @discardableResult
    public func pullShared() throws -> Bool {
        guard let shared else { return false }
        return try sharedGate.withLock { _ in
            let (changed, buckets, grants) = try shared.pull()
            if changed { try applyShared(buckets: buckets, grants: grants) }
            return changed
        }
    }

    /// The local DB becomes the shared set: what is there is written, what is not is removed.
    /// Per-host columns (a managed workspace's retirement time, a pending cleanup) are kept.
    private func applyShared(buckets: [BucketRecord], grants: [GrantRecord]) throws {
        try change { db in
            for b in buckets { try Self.upsert(db, b) }
            let bucketNames = Set(buckets.map(\.name))
            for name in try String.fetchAll(db, sql: "SELECT name FROM buckets") where !bucketNames.contains(name) {
                try db.execute(sql: "DELETE FROM buckets WHERE name = ?", arguments: [name])
            }
            for g in grants { try Self.upsert(db, g) }
            let grantIDs = Set(grants.map(\.id))
            for id in try String.fetchAll(db, sql: "SELECT id FROM grants") where !grantIDs.contains(id) {
                try db.execute(sql: "DELETE FROM grants WHERE id = ?", arguments: [id])
            }
        }
    }

    // MARK: changes, shared first

    func sharedInsertBucket(_ shared: SharedState, _ record: BucketRecord) throws {
        try sharedGate.withLock { _ in
            guard try shared.createBucket(record) else {
                throw DaemonError(.usage, "bucket \(record.name) already exists (another daemon of the cluster made it)",
                                  fix: "see `garagetytus bucket info \(record.name)`")
            }
            try change { db in try Self.upsert(db, record) }
        }
    }

    func sharedUpdateBucket(_ shared: SharedState, _ name: String, _ edit: @escaping (inout BucketRecord) -> Void) throws {
        try sharedGate.withLock { _ in
            guard let b = try shared.updateBucket(name, edit) else {
                throw DaemonError(.usage, "no bucket named \"\(name.prefix(80))\" in the cluster", fix: "see `garagetytus bucket list`")
            }
            try change { db in try Self.upsert(db, b) }
        }
    }

    func sharedRemoveBucket(_ shared: SharedState, _ name: String) throws {
        try sharedGate.withLock { _ in
            try shared.deleteBucket(name)
            try change { db in
                try db.execute(sql: "DELETE FROM buckets WHERE name = ?", arguments: [name])
                try db.execute(sql: "DELETE FROM traffic WHERE bucket = ?", arguments: [name])
            }
        }
    }

    /// A grant counts against the cluster-wide limits by holding two slots: one of the active
    /// ring until it expires or is revoked, one of the hourly ring for an hour.
    func sharedMint(_ shared: SharedState, _ record: GrantRecord) throws {
        try sharedGate.withLock { _ in
            // Judge the holders of slots by the newest state (a revoke elsewhere frees a slot). What
            // the pull brought goes into the local copy too: the pull's cache now counts it as seen.
            let (changed, buckets, grants) = try shared.pull()
            if changed { try applyShared(buckets: buckets, grants: grants) }
            let byID = Dictionary(grants.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            let t = record.createdAt.timeIntervalSince1970
            let claim = SlotClaim(grantID: record.id, claimedAt: t, expiresAt: record.expiresAt.timeIntervalSince1970,
                                  nonce: UUID().uuidString)
            if let holders = try shared.claim(SharedState.activeSlots, size: limits.maxActiveGrants, claim, isFree: { h in
                if h.expiresAt <= t { return true }
                guard let g = byID[h.grantID] else { return h.claimedAt < t - 60 }  // a mint that died half-way
                return g.state != .active
            }) {
                throw Self.activeLimit(limits.maxActiveGrants, nextFree: holders.map(\.expiresAt).min())
            }
            if let holders = try shared.claim(SharedState.mintSlots, size: limits.maxMintsPerHour, claim, isFree: { $0.claimedAt <= t - 3600 }) {
                throw Self.mintLimit(limits.maxMintsPerHour, nextFree: holders.map { $0.claimedAt + 3600 }.min())
            }
            try shared.createGrant(record)
            try change { db in try Self.upsert(db, record) }
        }
    }

    func sharedUpdateGrant(_ shared: SharedState, _ id: String, _ edit: @escaping (inout GrantRecord) throws -> Void) throws -> GrantRecord {
        try sharedGate.withLock { _ in
            guard let g = try shared.updateGrant(id, edit) else {
                throw DaemonError(.usage, "no grant with id \"\(id.prefix(80))\" in the cluster", fix: "see `garagetytus bucket grants`")
            }
            try change { db in try Self.upsert(db, g) }
            return g
        }
    }

    // MARK: rows

    static func upsert(_ db: Database, _ b: BucketRecord) throws {
        try db.execute(sql: """
            INSERT INTO buckets (name, created_at, expires_at, ttl, quota_bytes, deny_all_until) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT(name) DO UPDATE SET created_at = excluded.created_at, expires_at = excluded.expires_at, ttl = excluded.ttl,
                quota_bytes = excluded.quota_bytes, deny_all_until = excluded.deny_all_until
            """, arguments: [b.name, b.createdAt.timeIntervalSince1970, b.expiresAt?.timeIntervalSince1970, b.ttl, b.quotaBytes,
                             b.denyAllUntil?.timeIntervalSince1970])
    }

    static func upsert(_ db: Database, _ g: GrantRecord) throws {
        try db.execute(sql: """
            INSERT INTO grants (id, bucket, label, access_key, secret_key, perms, created_at, expires_at, state, revoked_at, cleanup_pending)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
            ON CONFLICT(id) DO UPDATE SET bucket = excluded.bucket, label = excluded.label, access_key = excluded.access_key,
                secret_key = excluded.secret_key, perms = excluded.perms, created_at = excluded.created_at,
                expires_at = excluded.expires_at, state = excluded.state, revoked_at = excluded.revoked_at
            """, arguments: [g.id, g.bucket, g.label, g.accessKey, g.secretKey, GrantSpec.permissionsText(g.permissions),
                             g.createdAt.timeIntervalSince1970, g.expiresAt.timeIntervalSince1970, g.state.rawValue,
                             g.revokedAt?.timeIntervalSince1970])
    }
}
