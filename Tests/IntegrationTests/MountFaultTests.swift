import Daemon
import Foundation
import S3
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A mount in front of a failing or slow store (a fault-injecting proxy between it and the
/// gateway), and a mount whose grant is revoked: retries with bounded backoff, EIO/EACCES after
/// the budget, never a hang; recovery without a remount.
@Suite struct MountFaultTests {
    struct Setup {
        let h: DaemonHarness
        let proxy: FaultProxy
        let mnt: String
        let engine: S3Client
    }

    static func setUp(_ name: String, extra: [String] = []) throws -> Setup {
        let h = try DaemonHarness(name: name)
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("flaky")
        let g = try h.mintGrant("flaky")
        let proxy = try FaultProxy(upstreamPort: h.config.gatewayPort, dir: h.home)
        let (mnt, _) = try h.mountWithGrant(g, bucket: "flaky", endpoint: proxy.url, extra: ["--metadata-ttl", "0"] + extra)
        return Setup(h: h, proxy: proxy, mnt: mnt, engine: try h.engineClient())
    }

    static func tearDown(_ s: Setup) {
        s.h.forceUnmount(s.mnt)
        s.proxy.stop()
        _ = try? s.h.run(["stop"])
    }

    @Test func transientFaultsAndStallsAreRetriedUntilTheOperationSucceeds() throws {
        let s = try Self.setUp("mfp")
        defer { Self.tearDown(s) }
        for fault in ["500", "503", "reset"] {
            let data = randomData(1 << 20)
            try s.proxy.inject(fault, count: 2, match: "PUT /flaky/w-\(fault)")
            #expect(posixWrite(s.mnt + "/w-\(fault)", data) == 0, "write through \(fault)")
            #expect(try s.engine.get(bucket: "flaky", key: "w-\(fault)") == data)
            #expect(s.proxy.seen().filter { $0.hasPrefix("\(fault) PUT /flaky/w-\(fault)") }.count == 2)
        }
        // A read stalled for 5 s is waited for, not failed.
        let remote = randomData(3 << 20)
        _ = try s.engine.put(bucket: "flaky", key: "remote.bin", body: remote)
        try s.proxy.inject("stall", count: 1, match: "GET /flaky/remote.bin", seconds: 5)
        let started = Date()
        #expect(try posixRead(s.mnt + "/remote.bin").get() == remote)
        #expect(Date().timeIntervalSince(started) >= 5)
        #expect(s.proxy.seen().contains { $0.hasPrefix("stall GET /flaky/remote.bin") })
    }

    @Test func aStoreThatKeepsFailingGivesEIOWithinTheBudgetAndTheMountRecovers() throws {
        let s = try Self.setUp("mfe", extra: ["--io-timeout", "2"])
        defer { Self.tearDown(s) }
        let remote = randomData(1 << 20)
        _ = try s.engine.put(bucket: "flaky", key: "remote.bin", body: remote)

        for fault in ["500", "stall"] {
            try s.proxy.inject(fault, match: "/flaky/", seconds: 30)
            let started = Date()
            #expect(posixWrite(s.mnt + "/new-\(fault)", randomData(64 << 10)) == EIO, "write under \(fault)")
            #expect(throws: POSIXError(.EIO)) { try posixRead(s.mnt + "/remote.bin").get() }
            let took = Date().timeIntervalSince(started)
            // Each of the two requests gives up within its 60 s budget (not a performance bound).
            #expect(took < 2 * 60 + 10, "\(fault): EIO after \(took) s")
            print("reliability: a store that keeps answering \(fault): a write and a read got EIO after \(String(format: "%.1f", took)) s")
            // Retried, with backoff, but not forever: 5 attempts of each request, at least
            // 0.5 + 1 + 2 + 2.5 s apart in all (the lower ends of the jittered waits).
            let seen = s.proxy.seen()
            for path in ["/flaky/remote.bin", "/flaky/new-\(fault)"] {
                let tries = Dictionary(grouping: seen.filter { $0.hasPrefix(fault + " ") && $0.hasSuffix(" " + path) }) { $0.split(separator: " ")[1] }
                #expect(!tries.isEmpty && tries.values.allSatisfy { $0.count == 5 }, "\(path): \(tries.mapValues(\.count)) attempts")
            }
            #expect(took >= 2 * 6, "\(fault): EIO after \(took) s")
            #expect((try? s.engine.head(bucket: "flaky", key: "new-\(fault)")) == nil)
        }
        #expect(s.h.mountLogs().contains(" error mount: "))

        // The store is back: the same mount works.
        try s.proxy.inject("none")
        #expect(try posixRead(s.mnt + "/remote.bin").get() == remote)
        let data = randomData(256 << 10)
        #expect(posixWrite(s.mnt + "/after", data) == 0)
        #expect(try s.engine.get(bucket: "flaky", key: "after") == data)
    }

    @Test func aRevokedOrExpiredGrantGivesEACCESNamingTheGrantAndARotatedOneRecoversWithoutRemount() throws {
        let h = try DaemonHarness(name: "mfc")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.startWithHooks().status == 0)
        try h.createBucket("cred")
        let g = try h.mintGrant("cred")
        let (mnt, credentials) = try h.mountWithGrant(g, bucket: "cred", extra: ["--metadata-ttl", "0"])
        defer { h.forceUnmount(mnt) }
        let before = randomData(100 << 10)
        #expect(posixWrite(mnt + "/before", before) == 0)
        let pid = h.mountPID(mnt)

        #expect(try h.run(["bucket", "revoke", g.grantID]).status == 0)
        #expect(posixWrite(mnt + "/during", Data("x".utf8)) == EACCES)
        #expect(throws: POSIXError(.EACCES)) { try posixRead(mnt + "/before").get() }
        #expect(eventually(timeout: 5) { h.mountLogs().contains("grant \(g.grantID) was revoked") }, "\(h.mountLogs())")

        // A new grant written to the credentials file (what a rotation does): the same mount works.
        let fresh = try h.mintGrant("cred")
        let tmp = credentials + ".tmp"
        try JSONEncoder().encode(fresh).write(to: URL(fileURLWithPath: tmp))
        chmod(tmp, 0o600)
        rename(tmp, credentials)
        #expect(eventually(timeout: 10, every: 0.2) { (try? posixRead(mnt + "/before").get()) == before })
        #expect(posixWrite(mnt + "/after", Data("y".utf8)) == 0)
        #expect(h.mountPID(mnt) == pid)

        // Expired: the same, naming the grant and when it ended.
        try h.expireSoon(grant: fresh.grantID, in: 0.5)
        #expect(eventually(timeout: 10, every: 0.2) { posixWrite(mnt + "/late", Data("z".utf8)) == EACCES })
        #expect(eventually(timeout: 5) { h.mountLogs().contains("grant \(fresh.grantID) expired at") })
    }
}
