import Foundation
import S3
import Synchronization
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's change feed through the kernel: another client's PUT, overwrite, metadata-only
/// copy (an s3fs-style chmod) and DELETE are visible in a mount within 100 ms, while a mount that
/// does not follow the feed (same 30 s metadata TTL) still shows the old state; the feed's
/// stream ends when the grant that opened it is revoked.
@Suite(.serialized, .timeLimit(.minutes(5))) struct MountChangeFeedTests {
    func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    func mode(_ path: String) -> UInt32? {
        var st = stat()
        return stat(path, &st) == 0 ? UInt32(st.st_mode) & 0o7777 : nil
    }

    func text(_ path: String) -> String? { (try? Data(contentsOf: URL(fileURLWithPath: path))).map { String(decoding: $0, as: UTF8.self) } }

    /// Seconds until `condition` held (polled every millisecond), or nil if it did not within 5 s.
    func seen(_ condition: () -> Bool) -> Double? {
        let start = Date()
        while Date().timeIntervalSince(start) < 5 {
            if condition() { return Date().timeIntervalSince(start) }
            usleep(1000)
        }
        return nil
    }

    func heads(_ mnt: String) -> Double {
        (mountStat(mnt, "garagetytus_object_requests_total{method=\"HEAD\",status=\"200\"}") ?? 0)
            + (mountStat(mnt, "garagetytus_object_requests_total{method=\"HEAD\",status=\"404\"}") ?? 0)
    }

    @Test func anotherClientsChangesAreSeenWithinATenthOfASecond() throws {
        let h = try DaemonHarness(name: "feed")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("shared")
        let g = try h.mintGrant("shared")
        let other = try h.gatewayClient(g)
        _ = try other.put(bucket: "shared", key: "d/f.txt", body: Data("version one".utf8), metadata: ["mode": "\(0o100644)"])
        let (m, _) = try h.mountWithGrant(g, bucket: "shared", name: "followed", extra: ["--metadata-ttl", "30"])
        defer { h.forceUnmount(m) }
        let (plain, _) = try h.mountWithGrant(g, bucket: "shared", name: "plain", extra: ["--metadata-ttl", "30", "--no-change-feed"])
        defer { h.forceUnmount(plain) }
        #expect(eventually(timeout: 10) { mountStat(m, "garagetytus_changefeed_up") == 1 },
                "the mount follows the feed: \(h.mountLogs().suffix(600))")

        // Both mounts have listed the directory, looked up a missing name, read the file.
        for mnt in [m, plain] {
            #expect(try FileManager.default.contentsOfDirectory(atPath: mnt + "/d") == ["f.txt"])
            #expect(!exists(mnt + "/d/new.txt"))
            #expect(text(mnt + "/d/f.txt") == "version one")
        }
        // A create through the followed mount itself: one PUT, no HEAD (the listing is trusted).
        let headsBefore = heads(m)
        for i in 0..<10 { try Data("mine \(i)".utf8).write(to: URL(fileURLWithPath: m + "/d/mine\(i).txt")) }
        #expect(heads(m) == headsBefore, "creates asked HEAD \(heads(m) - headsBefore) times")

        var took: [(String, Double?)] = []
        _ = try other.put(bucket: "shared", key: "d/new.txt", body: Data("fresh".utf8))
        took.append(("put", seen { text(m + "/d/new.txt") == "fresh" }))
        _ = try other.put(bucket: "shared", key: "d/f.txt", body: Data("version two, longer".utf8), metadata: ["mode": "\(0o100644)"])
        took.append(("overwrite", seen { text(m + "/d/f.txt") == "version two, longer" }))
        try other.copy(bucket: "shared", from: "d/f.txt", to: "d/f.txt", metadata: ["mode": "\(0o100600)"])
        took.append(("chmod", seen { mode(m + "/d/f.txt") == 0o600 }))
        try other.delete(bucket: "shared", key: "d/new.txt")
        took.append(("delete", seen { !exists(m + "/d/new.txt") }))
        for (what, t) in took {
            #expect(t.map { $0 <= 0.1 } == true, "\(what) seen after \(t.map { String(format: "%.3f s", $0) } ?? "more than 5 s")")
        }
        #expect(took.count == 4)
        // The daemon counts what it follows: this mount's stream, and the changes the engine reported.
        let daemonMetrics = h.metrics() ?? ""
        #expect(metricValue(daemonMetrics, "garagetytus_changefeed_followers") == 1, "\(daemonMetrics.suffix(400))")
        #expect((metricValue(daemonMetrics, "garagetytus_changefeed_changes_total") ?? 0) >= 14)
        // The mount without the feed still shows what it cached (so the feed, not a TTL, did it).
        #expect(text(plain + "/d/f.txt") == "version one")
        #expect(!exists(plain + "/d/new.txt") || text(plain + "/d/new.txt") == nil)

        // The daemon restarts: the mount resumes from its position and follows again.
        #expect(try h.run(["restart"]).status == 0)
        _ = try other.put(bucket: "shared", key: "d/after-restart.txt", body: Data("back".utf8))
        #expect(seen { text(m + "/d/after-restart.txt") == "back" } != nil || eventually(timeout: 10) { text(m + "/d/after-restart.txt") == "back" },
                "\(h.mountLogs().suffix(800))")
        // The engine started after the mounts: its mount namespace holds no copy of them (a
        // copy would keep their FUSE connections alive after `unmount`, and their processes with them).
        let engineMounts = try String(contentsOfFile: "/proc/\(try h.enginePID())/mounts", encoding: .utf8)
        #expect(!engineMounts.contains(m) && !engineMounts.contains(" fuse"), "\(engineMounts)")
        let started = Date()
        #expect(try h.run(["unmount", m]).status == 0)
        #expect(try h.run(["unmount", plain]).status == 0)
        #expect(Date().timeIntervalSince(started) < 10, "unmount after a daemon restart took \(Date().timeIntervalSince(started)) s")
    }

    @Test func theStreamEndsWhenItsGrantIsRevokedAndRefusesBadInput() throws {
        let h = try DaemonHarness(name: "feedrev")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("feedrev")
        let g = try h.mintGrant("feedrev", perms: "read,list")
        let client = try h.gatewayClient(g)
        let lines = Mutex<[String]>([])
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            try? client.stream(bucket: "feedrev", query: [("changes", "")], stallSeconds: 10, operation: "changes") { bytes in
                lines.withLock { $0.append(String(decoding: bytes, as: UTF8.self)) }
                return true
            }
            done.signal()
        }
        #expect(eventually(timeout: 10) { lines.withLock { $0.joined().contains("\"tick\"") } })
        #expect(try h.run(["bucket", "revoke", g.grantID]).status == 0)
        #expect(done.wait(timeout: .now() + 10) == .success, "the stream went on after the revoke")
        let all = lines.withLock { $0.joined() }
        #expect(all.contains("\"op\":\"end\"") && all.contains("revoked"), "\(all.suffix(300))")

        // A grant follows its own bucket only; one without list may not follow; a position must be a number.
        try h.createBucket("feedother")
        let reader = try h.gatewayClient(try h.mintGrant("feedrev", perms: "read,list"))
        do {
            try reader.stream(bucket: "feedother", query: [("changes", "")], stallSeconds: 5, operation: "changes") { _ in true }
            Issue.record("a grant on feedrev followed feedother")
        } catch let e as S3Error {
            #expect(e.status == 403, "\(e)")
        }
        let writer = try h.gatewayClient(try h.mintGrant("feedrev", perms: "read,write"))
        #expect(throws: S3Error.self) { try writer.stream(bucket: "feedrev", query: [("changes", "")], stallSeconds: 5, operation: "changes") { _ in true } }
        let lister = try h.gatewayClient(try h.mintGrant("feedrev", perms: "list"))
        do {
            try lister.stream(bucket: "feedrev", query: [("changes", ""), ("since", "yesterday")], stallSeconds: 5, operation: "changes") { _ in true }
            Issue.record("since=yesterday was accepted")
        } catch let e as S3Error {
            #expect(e.status == 400 && e.message.contains("since"), "\(e)")
        }
    }
}
