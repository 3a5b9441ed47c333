@testable import Daemon
import Foundation
import S3
import Synchronization
import Testing

/// The shared objects in memory, with the engine's conditional-write semantics (issue 21).
final class MemorySharedObjects: SharedObjects {
    private let objects = Mutex<[String: (Data, String)]>([:])
    /// Fails every call while set (a cluster that does not answer).
    let down = Atomic<Bool>(false)

    private func check() throws {
        struct Down: Error {}
        if down.load(ordering: .relaxed) { throw Down() }
    }

    func list(prefix: String) throws -> [String: String] {
        try check()
        return objects.withLock { $0.filter { $0.key.hasPrefix(prefix) }.mapValues(\.1) }
    }
    func get(_ key: String) throws -> (data: Data, etag: String)? {
        try check()
        return objects.withLock { $0[key].map { ($0.0, $0.1) } }
    }
    func create(_ key: String, _ data: Data) throws -> Bool {
        try check()
        return objects.withLock { o in
            guard o[key] == nil else { return false }
            o[key] = (data, UUID().uuidString)
            return true
        }
    }
    func replace(_ key: String, _ data: Data, ifMatch etag: String) throws -> Bool {
        try check()
        return objects.withLock { o in
            guard o[key]?.1 == etag else { return false }
            o[key] = (data, UUID().uuidString)
            return true
        }
    }
    func delete(_ key: String) throws {
        try check()
        objects.withLock { _ = $0.removeValue(forKey: key) }
    }
    func raw(_ key: String) -> Data? { objects.withLock { $0[key]?.0 } }
}

final class TestClock: Sendable {
    private let t: Mutex<Date>
    init(_ start: Date) { t = Mutex(start) }
    var now: Date { t.withLock { $0 } }
    func advance(_ s: Double) { t.withLock { $0 = $0.addingTimeInterval(s) } }
}

@Suite struct SharedStateTests {
    final class Host: Sendable {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gt-shared-\(UUID().uuidString)").path
        let registry: Registry
        let shared: SharedState
        init(_ objects: MemorySharedObjects, clock: TestClock, secret: String = "admin-secret", limits: Registry.Limits = .init()) throws {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let now: @Sendable () -> Date = { clock.now }
            shared = SharedState(objects: objects, adminSecret: secret, maxStaleness: 30, now: now)
            registry = try Registry(store: StateStore(path: dir + "/state.db"), limits: limits, shared: shared, now: now)
        }
        deinit { try? FileManager.default.removeItem(atPath: dir) }
    }

    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// Two daemons over one shared store, and bucket "photos" made on the first (not yet pulled by the second).
    static func twoDaemons(limits: Registry.Limits = .init()) throws -> (objects: MemorySharedObjects, clock: TestClock, a: Host, b: Host) {
        let objects = MemorySharedObjects()
        let clock = TestClock(start)
        let a = try Host(objects, clock: clock, limits: limits), b = try Host(objects, clock: clock, limits: limits)
        _ = try a.registry.insertBucket(try BucketSpec(name: "photos", ttl: "1h", quota: "1G", confirmed: false))
        return (objects, clock, a, b)
    }

    @Test func bucketsGrantsAndRevokesMadeOnOneDaemonHoldOnTheOther() throws {
        let (objects, clock, a, b) = try Self.twoDaemons()
        let g = try a.registry.mint(try GrantSpec(bucket: "photos", label: "ci", perms: "read,write", ttl: "30m"))
        #expect(b.registry.grant(accessKey: g.accessKey) == nil)  // not pulled yet
        #expect(try b.registry.pullShared())
        #expect(b.registry.bucket("photos")?.quotaBytes == 1 << 30)
        // The secret reached B sealed (not in the object as text) and opens there.
        #expect(b.registry.grant(accessKey: g.accessKey)?.secretKey == g.secretKey)
        let stored = try #require(objects.raw("grants/\(g.id).json"))
        #expect(!String(decoding: stored, as: UTF8.self).contains(g.secretKey))
        // Another cluster's daemon (another admin secret) reads the grant but cannot use it.
        let stranger = try Host(objects, clock: clock, secret: "another")
        #expect(stranger.registry.grant(accessKey: g.accessKey)?.secretKey == "")

        // A bucket of that name cannot be made again on B, even before B pulled it.
        #expect(throws: DaemonError.self) { try b.registry.insertBucket(try BucketSpec(name: "photos", ttl: "1h", quota: "1G", confirmed: false)) }

        // Revoke and deny-all on B reach A with its next pull; nothing else changes there.
        _ = try b.registry.beginRevoke(g.id)
        try b.registry.setDenyAll("photos", until: Self.start.addingTimeInterval(600))
        #expect(a.registry.grant(accessKey: g.accessKey)?.state == .active)
        #expect(try a.registry.pullShared())
        #expect(a.registry.grant(accessKey: g.accessKey)?.state == .revoking)
        #expect(a.registry.bucket("photos")?.denyAllUntil == Self.start.addingTimeInterval(600))
        #expect(try !a.registry.pullShared())  // nothing new
        // A revoke begun on both daemons is refused on the second (the shared state decides).
        #expect(throws: DaemonError.self) { _ = try a.registry.beginRevoke(g.id) }
        try a.registry.finishRevoke(g.id, cleanedUp: true)
        try b.registry.pullShared()
        #expect(b.registry.grant(accessKey: g.accessKey)?.state == .revoked && b.registry.grant(accessKey: g.accessKey)?.secretKey == "")
        // A bucket removed on A is gone on B.
        try a.registry.removeBucket("photos")
        try b.registry.pullShared()
        #expect(b.registry.bucket("photos") == nil)
    }

    /// Grants that ended long ago are deleted — from the shared state, so from every daemon —
    /// and their keys are refused as unknown; active ones and recently ended ones stay.
    @Test func grantsThatEndedLongAgoArePrunedOnEveryDaemon() throws {
        let (objects, clock, a, b) = try Self.twoDaemons()
        let revoked = try a.registry.mint(try GrantSpec(bucket: "photos", label: "r", perms: "read", ttl: "24h"))
        let expired = try a.registry.mint(try GrantSpec(bucket: "photos", label: "e", perms: "read", ttl: "1h"))
        _ = try a.registry.beginRevoke(revoked.id)
        try a.registry.finishRevoke(revoked.id, cleanedUp: true)
        clock.advance(8 * 86400)
        let recent = try a.registry.mint(try GrantSpec(bucket: "photos", label: "n", perms: "read", ttl: "1h"))
        try b.registry.pullShared()
        #expect(Set(try b.registry.grants().map(\.id)) == [revoked.id, expired.id, recent.id])
        #expect(try a.registry.pruneEnded(before: clock.now.addingTimeInterval(-7 * 86400)).sorted() == [revoked.id, expired.id].sorted())
        #expect(objects.raw("grants/\(revoked.id).json") == nil && objects.raw("grants/\(expired.id).json") == nil)
        #expect(try b.registry.pullShared())
        #expect(try b.registry.grants().map(\.id) == [recent.id] && b.registry.grant(accessKey: revoked.accessKey) == nil)
        #expect(try a.registry.pruneEnded(before: clock.now.addingTimeInterval(-7 * 86400)).isEmpty)

        // The same without a cluster.
        let dir = NSTemporaryDirectory() + "prune-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let alone = try Registry(store: StateStore(path: dir + "/state.db"), now: { clock.now })
        _ = try alone.insertBucket(try BucketSpec(name: "photos", ttl: "permanent", quota: "1G", confirmed: true))
        let old = try alone.mint(try GrantSpec(bucket: "photos", label: "o", perms: "read", ttl: "1h"))
        let workspace = try alone.mint(try GrantSpec(bucket: "photos", label: "workspace:ws", perms: "read", ttl: "1h"))
        clock.advance(8 * 86400)
        let kept = try alone.mint(try GrantSpec(bucket: "photos", label: "k", perms: "read", ttl: "1h"))
        #expect(try alone.pruneEnded(before: clock.now.addingTimeInterval(-7 * 86400)) == [old.id])
        // A managed workspace's grant that only expired is renewed when its daemon runs again.
        #expect(try alone.grants().map(\.id) == [workspace.id, kept.id] && alone.grant(accessKey: old.accessKey) == nil)
    }

    @Test func theRateLimitsCountEveryDaemonsGrants() throws {
        let (_, clock, a, b) = try Self.twoDaemons(limits: Registry.Limits(maxActiveGrants: 3, maxMintsPerHour: 4))
        try b.registry.pullShared()
        let spec = try GrantSpec(bucket: "photos", label: "ci", perms: "read", ttl: "30m")
        let g1 = try a.registry.mint(spec)
        _ = try b.registry.mint(spec)
        _ = try a.registry.mint(spec)
        let full = #expect(throws: DaemonError.self) { try b.registry.mint(spec) }
        #expect(full?.message.contains("at most 3 active grants; the next frees up at") == true, "\(full?.message ?? "")")
        // A revoke on one daemon frees a slot for the other; the fifth mint of the hour is refused.
        _ = try a.registry.beginRevoke(g1.id)
        _ = try b.registry.mint(spec)
        _ = try a.registry.beginRevoke(try #require(a.registry.snapshot.grantsByKey.values.first { $0.state == GrantView.State.active }).id)
        let hourly = #expect(throws: DaemonError.self) { try b.registry.mint(spec) }
        #expect(hourly?.message.contains("at most 4 grant creations per hour") == true, "\(hourly?.message ?? "")")
        // An hour later both limits have room again (the old grants expired).
        clock.advance(3601)
        _ = try b.registry.mint(spec)
    }

    /// A mint reads the shared state first (for the limits); what that read brought is in the
    /// daemon's registry afterwards, not only in its cache of the shared objects.
    @Test func whatAMintReadIsKnownToTheDaemonAfterwards() throws {
        let (_, _, a, b) = try Self.twoDaemons()
        let fromA = try a.registry.mint(try GrantSpec(bucket: "photos", label: "a", perms: "read", ttl: "30m"))
        try b.registry.pullShared()
        _ = try a.registry.beginRevoke(fromA.id)
        let second = try a.registry.mint(try GrantSpec(bucket: "photos", label: "a2", perms: "read", ttl: "30m"))
        _ = try b.registry.mint(try GrantSpec(bucket: "photos", label: "b", perms: "read", ttl: "30m"))  // no pull before it
        #expect(b.registry.grant(accessKey: fromA.accessKey)?.state == .revoking)
        #expect(b.registry.grant(accessKey: second.accessKey)?.secretKey == second.secretKey)
    }

    @Test func concurrentMintsOnTwoDaemonsNeverExceedTheLimit() throws {
        let (_, _, a, b) = try Self.twoDaemons(limits: Registry.Limits(maxActiveGrants: 5, maxMintsPerHour: 50))
        let hosts = [a, b]
        try b.registry.pullShared()
        let spec = try GrantSpec(bucket: "photos", label: "ci", perms: "read", ttl: "30m")
        let minted = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            if (try? hosts[i % 2].registry.mint(spec)) != nil { minted.add(1, ordering: .relaxed) }
        }
        #expect(minted.load(ordering: .relaxed) == 5)
    }

    @Test func aDaemonThatCannotReadTheSharedStateGoesStaleAfterTheBound() throws {
        let objects = MemorySharedObjects()
        let clock = TestClock(Self.start)
        let a = try Host(objects, clock: clock)
        #expect(!a.shared.isStale)
        objects.down.store(true, ordering: .relaxed)
        clock.advance(20)
        #expect(throws: (any Error).self) { try a.registry.pullShared() }
        #expect(!a.shared.isStale)  // within 30 s of the last pull
        clock.advance(11)
        #expect(a.shared.isStale)
        objects.down.store(false, ordering: .relaxed)
        try a.registry.pullShared()
        #expect(!a.shared.isStale)
    }
}
