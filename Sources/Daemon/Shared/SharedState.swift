import Foundation
import Synchronization

/// The buckets and grants the daemons of one cluster share (ADR 0004, part 2): read whole by
/// `pull` (only the objects whose ETag changed are fetched again), changed one object at a time
/// with conditional writes, so two daemons changing the same bucket or grant never lose either
/// change, and limits counted in slots that are claimed with exclusive creates.
public final class SharedState: Sendable {
    let objects: any SharedObjects
    let seal: SecretSeal
    /// How long grants are served from what was last pulled before they are refused.
    public let maxStaleness: Double
    let now: @Sendable () -> Date

    static let buckets = "buckets/", grants = "grants/"
    static let activeSlots = "limits/active/", mintSlots = "limits/mints/"

    private struct Cache {
        var buckets: [String: (etag: String, record: BucketRecord)] = [:]
        var grants: [String: (etag: String, record: GrantRecord)] = [:]
        var lastPull: Date?
    }
    private let cache = Mutex(Cache())

    public init(objects: any SharedObjects, adminSecret: String, maxStaleness: Double, now: @escaping @Sendable () -> Date = { Date() }) {
        self.objects = objects
        self.seal = SecretSeal(adminSecret: adminSecret)
        self.maxStaleness = maxStaleness
        self.now = now
    }

    /// Seconds since the last complete pull, nil before the first.
    public var secondsSincePull: Double? { cache.withLock { $0.lastPull }.map { now().timeIntervalSince($0) } }

    /// Whether grants are still to be trusted: a pull succeeded within `maxStaleness`.
    public var isStale: Bool { (secondsSincePull ?? .infinity) > maxStaleness }

    /// Reads every bucket and grant (fetching only what changed since the last pull); whether
    /// anything changed, and the whole set.
    func pull() throws -> (changed: Bool, buckets: [BucketRecord], grants: [GrantRecord]) {
        let started = now()
        let bucketTags = try objects.list(prefix: Self.buckets)
        let grantTags = try objects.list(prefix: Self.grants)
        let known = cache.withLock { c in (c.buckets.mapValues(\.etag), c.grants.mapValues(\.etag)) }
        var fetchedBuckets: [String: (String, BucketRecord)] = [:]
        for (key, etag) in bucketTags where known.0[key] != etag {
            // Kept with the listing's ETag: an object changed between list and get is read again next time.
            guard let (data, _) = try objects.get(key), let b = SharedJSON.decode(SharedBucket.self, data) else { continue }
            fetchedBuckets[key] = (etag, b.record)
        }
        var fetchedGrants: [String: (String, GrantRecord)] = [:]
        for (key, etag) in grantTags where known.1[key] != etag {
            guard let (data, _) = try objects.get(key), let g = SharedJSON.decode(SharedGrant.self, data) else { continue }
            fetchedGrants[key] = (etag, g.record(seal: seal))
        }
        return cache.withLock { c in
            let changed = !fetchedBuckets.isEmpty || !fetchedGrants.isEmpty
                || Set(c.buckets.keys) != Set(bucketTags.keys) || Set(c.grants.keys) != Set(grantTags.keys)
            c.buckets = c.buckets.filter { bucketTags[$0.key] != nil }.merging(fetchedBuckets.mapValues { ($0.0, $0.1) }) { _, new in new }
            c.grants = c.grants.filter { grantTags[$0.key] != nil }.merging(fetchedGrants.mapValues { ($0.0, $0.1) }) { _, new in new }
            c.lastPull = started
            return (changed, c.buckets.values.map(\.record), c.grants.values.map(\.record))
        }
    }

    // MARK: buckets

    /// Stores a new bucket; false when one of that name exists already (made by any daemon).
    func createBucket(_ b: BucketRecord) throws -> Bool {
        let data = try SharedJSON.encode(SharedBucket(b))
        if try objects.create(Self.buckets + b.name + ".json", data) { return true }
        // A retried create answered 412 may have been this one.
        return try objects.get(Self.buckets + b.name + ".json")?.data == data
    }

    /// Changes a bucket where it is stored, again from the stored version when another daemon
    /// changed it meanwhile; nil when there is no such bucket.
    func updateBucket(_ name: String, _ change: (inout BucketRecord) throws -> Void) throws -> BucketRecord? {
        try update(Self.buckets + name + ".json", decode: { SharedJSON.decode(SharedBucket.self, $0)?.record },
                   encode: { try SharedJSON.encode(SharedBucket($0)) }, change)
    }

    func deleteBucket(_ name: String) throws { try objects.delete(Self.buckets + name + ".json") }

    // MARK: grants

    func createGrant(_ g: GrantRecord) throws {
        let data = try SharedJSON.encode(try SharedGrant(g, seal: seal))
        guard try objects.create(Self.grants + g.id + ".json", data) || objects.get(Self.grants + g.id + ".json")?.data == data else {
            throw DaemonError(.failed, "a grant with id \(g.id) exists already in the cluster", fix: "mint again")
        }
    }

    func updateGrant(_ id: String, _ change: (inout GrantRecord) throws -> Void) throws -> GrantRecord? {
        try update(Self.grants + id + ".json", decode: { SharedJSON.decode(SharedGrant.self, $0)?.record(seal: seal) },
                   encode: { try SharedJSON.encode(try SharedGrant($0, seal: seal)) }, change)
    }

    func deleteGrant(_ id: String) throws { try objects.delete(Self.grants + id + ".json") }

    /// Read, change, write back only if unchanged since the read; again from the top otherwise.
    private func update<R>(_ key: String, decode: (Data) -> R?, encode: (R) throws -> Data, _ change: (inout R) throws -> Void) throws -> R? {
        for _ in 0..<20 {
            guard let (data, etag) = try objects.get(key), var record = decode(data) else { return nil }
            try change(&record)
            let new = try encode(record)
            if try objects.replace(key, new, ifMatch: etag) { return record }
            // 412: changed meanwhile (or a retry of this very write landed): read it again.
            if let (now, _) = try objects.get(key), now == new { return record }
        }
        throw DaemonError(.failed, "\(key) kept changing under 20 attempts to update it", fix: "try again")
    }

    // MARK: limits

    /// Claims one of `size` slots under `prefix` for `claim`: a slot nobody holds, or one whose
    /// holder `isFree` says is done (an expired or revoked grant, a mint older than an hour),
    /// taken over only if it is still the version that was judged. Nil when claimed; else the
    /// claims that hold every slot.
    func claim(_ prefix: String, size: Int, _ claim: SlotClaim, isFree: (SlotClaim) -> Bool) throws -> [SlotClaim]? {
        let data = try SharedJSON.encode(claim)
        let held = try objects.list(prefix: prefix)
        func mine(_ key: String) throws -> Bool { try objects.get(key)?.data == data }
        for i in (0..<size).shuffled() where held[prefix + "\(i)"] == nil {
            if try objects.create(prefix + "\(i)", data) || mine(prefix + "\(i)") { return nil }
        }
        var holders: [SlotClaim] = []
        for i in 0..<size {
            let key = prefix + "\(i)"
            guard let (current, etag) = try objects.get(key) else {
                if try objects.create(key, data) || mine(key) { return nil }
                continue
            }
            guard let holder = SharedJSON.decode(SlotClaim.self, current) else {
                if try objects.replace(key, data, ifMatch: etag) || mine(key) { return nil }  // unreadable: nobody's
                continue
            }
            if isFree(holder) {
                if try objects.replace(key, data, ifMatch: etag) || mine(key) { return nil }
            } else {
                holders.append(holder)
            }
        }
        return holders
    }
}
