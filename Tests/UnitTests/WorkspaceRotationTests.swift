import Credentials
import Foundation
import Synchronization
import Testing
import Workspaces

/// The rotation protocol (`Sources/Workspaces/WorkspaceRotation.swift`) over in-memory fakes: the
/// daemon's grant API, the credential cache, the mounts' key reports and a clock that moves only
/// when slept. `WorkspaceTests` runs the same protocol against a real daemon and real mounts.
@Suite struct WorkspaceRotationTests {
    struct Failure: Error, CustomStringConvertible { var description: String }

    final class Grants: WorkspaceGrants {
        struct State { var calls: [String] = []; var minted = 0; var down: Set<String> = [] }
        let state = Mutex(State())
        /// Calls that fail from now on: "mint", "retire", "revoke".
        func fail(_ calls: String...) { state.withLock { $0.down.formUnion(calls) } }
        var calls: [String] { state.withLock { $0.calls } }

        func mint(bucket: String, workspace: String) throws -> CachedCredentials {
            let n = try record("mint \(bucket) \(workspace)", "mint")
            return CachedCredentials(accessKeyID: "GK\(n)", secretAccessKey: "s\(n)", source: "grant g_\(n)", grantID: "g_\(n)")
        }
        func retire(_ grantID: String, inSeconds: Double) throws { _ = try record("retire \(grantID) \(Int(inSeconds))", "retire") }
        func revoke(_ grantID: String) throws { _ = try record("revoke \(grantID)", "revoke") }

        private func record(_ call: String, _ kind: String) throws -> Int {
            try state.withLock { s in
                s.calls.append(call)
                if s.down.contains(kind) { throw Failure(description: "the daemon does not answer") }
                s.minted += kind == "mint" ? 1 : 0
                return s.minted
            }
        }
    }

    final class Cache: CredentialCache {
        let entries: Mutex<[String: CachedCredentials]>
        let saveFails: Bool
        init(_ entries: [String: CachedCredentials], saveFails: Bool = false) { self.entries = Mutex(entries); self.saveFails = saveFails }
        func loadCredentials(_ name: String) throws -> CachedCredentials? { entries.withLock { $0[name] } }
        func saveCredentials(_ name: String, _ c: CachedCredentials) throws {
            if saveFails { throw Failure(description: "disk full") }
            entries.withLock { $0[name] = c }
        }
    }

    final class Clock: RotationClock {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let elapsed = Mutex(0.0)
        func now() -> Date { start.addingTimeInterval(elapsed.withLock { $0 }) }
        func sleep(_ seconds: Double) { elapsed.withLock { $0 += seconds } }
        var slept: Double { elapsed.withLock { $0 } }
    }

    /// Mounts that switch to the new key `after` seconds each (nil: never); `broken`: the registry cannot be read.
    struct Mounts: MountKeyReports {
        let clock: Clock
        let switchAfter: [String: Double?]
        var broken = false
        func liveMountKeys(of workspace: String) throws -> [(mountpoint: String, fingerprint: String?)] {
            if broken { throw Failure(description: "mount registry file x.json is not a valid record") }
            return switchAfter.sorted { $0.key < $1.key }.map { mp, after in
                let switched = after.map { clock.slept >= $0 } ?? false
                return (mp, MountRegistry.fingerprint(switched ? "GK1" : "GKold"))
            }
        }
    }

    static let old = CachedCredentials(accessKeyID: "GKold", secretAccessKey: "sold", source: "grant g_old", grantID: "g_old")

    func rotate(_ grants: Grants, _ cache: Cache, _ mounts: Mounts, grace: Double = 300) throws -> WorkspaceRotation.Outcome {
        try WorkspaceRotation(grants: grants, cache: cache, mounts: mounts, clock: mounts.clock).rotate(workspace: "cases", bucket: "cases", grace: grace)
    }

    @Test func whenEveryMountSwitchesEarlyTheOldGrantIsRevokedThen() throws {
        let (grants, cache, clock) = (Grants(), Cache(["cases": Self.old]), Clock())
        let outcome = try rotate(grants, cache, Mounts(clock: clock, switchAfter: ["/mnt/a": 0.5, "/mnt/b": 1.2]))
        #expect(outcome.old == .revoked("g_old"))
        #expect(grants.calls == ["mint cases cases", "retire g_old 300", "revoke g_old"])
        #expect(try cache.loadCredentials("cases")?.accessKeyID == "GK1")
        // It waited for the slower mount (1.2 s), not for the whole 10 s.
        #expect(clock.slept >= 1.2 && clock.slept < 1.5, "waited \(clock.slept) s")
    }

    @Test func aMountThatNeverSwitchesLeavesTheOldGrantToItsGrace() throws {
        let (grants, clock) = (Grants(), Clock())
        let outcome = try rotate(grants, Cache(["cases": Self.old]), Mounts(clock: clock, switchAfter: ["/mnt/a": 0.2, "/mnt/stuck": nil]))
        #expect(outcome.old == .retiring("g_old", inSeconds: 300, notSwitched: ["/mnt/stuck"]))
        #expect(!grants.calls.contains("revoke g_old"))
        #expect(clock.slept >= 9.99 && clock.slept < 10.5, "waited \(clock.slept) s")
        // A grace shorter than the 10 s wait bounds the wait too.
        let short = Clock()
        let quick = try rotate(Grants(), Cache(["cases": Self.old]), Mounts(clock: short, switchAfter: ["/mnt/stuck": nil]), grace: 3)
        #expect(quick.old == .retiring("g_old", inSeconds: 3, notSwitched: ["/mnt/stuck"]))
        #expect(short.slept >= 2.99 && short.slept < 3.5)
    }

    @Test func theDaemonUnreachableMidRotationLeavesTheNewKeyCachedAndSaysTheOldOneStillWorks() throws {
        let (grants, cache, clock) = (Grants(), Cache(["cases": Self.old]), Clock())
        grants.fail("retire", "revoke")
        let outcome = try rotate(grants, cache, Mounts(clock: clock, switchAfter: ["/mnt/a": 0.3]))
        guard case .stillActive("g_old", let reason) = outcome.old else { Issue.record("\(outcome.old)"); return }
        #expect(reason.contains("does not answer"))
        #expect(try cache.loadCredentials("cases")?.accessKeyID == "GK1", "mounts switch to the new grant although the daemon went away")
    }

    @Test func aDaemonThatCannotMintChangesNothing() throws {
        let (grants, cache, clock) = (Grants(), Cache(["cases": Self.old]), Clock())
        grants.fail("mint")
        #expect(throws: Failure.self) { try rotate(grants, cache, Mounts(clock: clock, switchAfter: ["/mnt/a": 0])) }
        #expect(try cache.loadCredentials("cases") == Self.old)
        #expect(grants.calls == ["mint cases cases"])
    }

    @Test func aRevokeThatFailsLeavesTheOldGrantRetiring() throws {
        let (grants, clock) = (Grants(), Clock())
        grants.fail("revoke")
        let outcome = try rotate(grants, Cache(["cases": Self.old]), Mounts(clock: clock, switchAfter: ["/mnt/a": 0.1]), grace: 60)
        #expect(outcome.old == .retiring("g_old", inSeconds: 60, notSwitched: []))
        #expect(grants.calls == ["mint cases cases", "retire g_old 60", "revoke g_old"])
    }

    @Test func aNewGrantThatCannotBeCachedIsRevokedAgain() throws {
        let (grants, cache, clock) = (Grants(), Cache(["cases": Self.old], saveFails: true), Clock())
        #expect(throws: Failure.self) { try rotate(grants, cache, Mounts(clock: clock, switchAfter: [:])) }
        #expect(grants.calls == ["mint cases cases", "revoke g_1"], "the old grant is left alone, the unused new one ended")
        #expect(try cache.loadCredentials("cases") == Self.old)
    }

    @Test func withoutAnOldGrantOrMountsNothingIsRetiredOrAwaited() throws {
        let hand = CachedCredentials(accessKeyID: "GKhand", secretAccessKey: "s", source: "storage set")
        let (grants, clock) = (Grants(), Clock())
        #expect(try rotate(grants, Cache(["cases": hand]), Mounts(clock: clock, switchAfter: ["/mnt/a": nil])).old == .none)
        #expect(grants.calls == ["mint cases cases"] && clock.slept == 0)
        // No mount at all: the old grant goes at once.
        let none = try rotate(Grants(), Cache(["cases": Self.old]), Mounts(clock: Clock(), switchAfter: [:]))
        #expect(none.old == .revoked("g_old"))
    }

    @Test func anUnreadableRegistryNeverRevokesTheOldGrantEarly() throws {
        let grants = Grants()
        var mounts = Mounts(clock: Clock(), switchAfter: [:])
        mounts.broken = true
        guard case .retiring("g_old", 300, let pending) = try rotate(grants, Cache(["cases": Self.old]), mounts).old else { Issue.record("not retiring"); return }
        #expect(pending.count == 1 && pending[0].contains("not a valid record"))
        #expect(!grants.calls.contains("revoke g_old"))
    }
}
