import Daemon
import Foundation
import S3
import Synchronization
import Testing
import TestSupport

/// The watchdog against a real small filesystem: a 64 MiB tmpfs holding the whole home.
@Suite(.serialized) struct WatchdogDiskTests {
    @Test func fillingTheDiskFlipsToReadOnlyWithinTwoTicksAndBack() throws {
        let (mountpoint, release) = try Self.tmpfsHome(64)
        defer { release() }
        let interval = 0.3
        let h = try DaemonHarness(home: mountpoint) { $0.watchdog.intervalSeconds = interval }
        defer { _ = try? h.run(["stop"]); h.cleanUp() }
        #expect(try h.run(["start"]).status == 0)
        #expect(eventually(timeout: 3) { h.metrics()?.contains("garagetytus_mode{mode=\"rw\"} 1") == true })
        try h.createBucket("kept", quota: "8M")
        let grant = try h.mintGrant("kept")
        let small = mountpoint + "/small.txt"
        try "still readable\n".write(toFile: small, atomically: true, encoding: .utf8)
        #expect(try h.aws(grant, ["s3", "cp", small, "s3://kept/small.txt", "--only-show-errors"]).status == 0)

        // Fill until 5 % is free: below the 10 % threshold.
        var st = statvfs()
        #expect(statvfs(mountpoint, &st) == 0)
        let total = Int64(st.f_blocks) * Int64(st.f_frsize)
        let free = Int64(st.f_bavail) * Int64(st.f_frsize)
        let fill = mountpoint + "/fill"
        let fd = open(fill, O_CREAT | O_WRONLY, 0o600)
        #expect(posix_fallocate(fd, 0, off_t(free - total / 20)) == 0)
        close(fd)
        // The first tick that starts after the fill (a tick reads the disk after taking its time)
        // has flipped: "within two ticks" of the fill, counted in ticks, not in seconds.
        let afterFill = Self.ticks(h, after: Date(), count: 1)
        #expect(afterFill.first?.mode == .ro, "\(afterFill)")
        let metrics = try #require(h.metrics())
        #expect(!metrics.contains("mode=\"rw\""))  // exactly one mode series
        #expect((h.metric("garagetytus_disk_free_pct") ?? 100) < 10)
        #expect(try h.status()["mode"] as? String == "ro")
        let wd = try JSONDecoder().decode(WatchdogRecord.self, from: Data(contentsOf: URL(fileURLWithPath: h.paths.watchdogFile)))
        #expect(wd.mode == .ro)
        #expect(h.logText().contains("watchdog: mode rw -> ro"))
        // The front door: writes refused with the reason, reads keep working.
        let refused = try h.aws(grant, ["s3", "cp", small, "s3://kept/again.txt"])
        #expect(refused.status != 0 && refused.stderr.contains("daemon is read-only: disk free"), "\(refused.stderr)")
        #expect(try h.aws(grant, ["s3", "cp", "s3://kept/small.txt", "-"]).stdout == "still readable\n")

        // 12 % free is inside the hysteresis band: still ro.
        let shrink = open(fill, O_WRONLY)
        #expect(ftruncate(shrink, off_t(free - total * 12 / 100)) == 0)
        close(shrink)
        let inBand = Self.ticks(h, after: Date(), count: 3)
        #expect(inBand.count == 3 && inBand.allSatisfy { $0.mode == .ro && (10..<15).contains($0.diskFreePct) }, "\(inBand)")
        #expect(h.metrics()?.contains("garagetytus_mode{mode=\"ro\"} 1") == true)

        unlink(fill)
        let afterFree = Self.ticks(h, after: Date(), count: 1)
        #expect(afterFree.first?.mode == .rw, "\(afterFree)")
        #expect(h.metrics()?.contains("garagetytus_mode{mode=\"rw\"} 1") == true)
        #expect(h.logText().contains("watchdog: mode ro -> rw"))
        #expect(try h.run(["stop"]).status == 0)
    }

    /// A tmpfs of `megabytes` for a whole home; unmounted and removed by the returned closure.
    /// The watchdog's records of the first `count` ticks that started after `t` (polled from
    /// watchdog.json, 30 s at most; a tick the poll missed is skipped, never invented).
    static func ticks(_ h: DaemonHarness, after t: Date, count: Int) -> [WatchdogRecord] {
        var seen: [WatchdogRecord] = []
        _ = eventually(timeout: 30, every: 0.02) {
            if let data = try? Data(contentsOf: URL(fileURLWithPath: h.paths.watchdogFile)),
               let r = try? JSONDecoder().decode(WatchdogRecord.self, from: data),
               r.lastTickUnixSeconds > t.timeIntervalSince1970, r.lastTickUnixSeconds > (seen.last?.lastTickUnixSeconds ?? 0) {
                seen.append(r)
            }
            return seen.count >= count
        }
        return seen
    }

    static func tmpfsHome(_ megabytes: Int) throws -> (String, () -> Void) {
        let mountpoint = try DaemonHarness.makeTempDir(prefix: "/tmp/gt-wd-")
        let mount = try DaemonHarness.runProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", mountpoint],
                                                 env: [:], timeout: 10)
        try #require(mount.status == 0, "cannot mount a tmpfs for the test: \(mount.stderr)")
        return (mountpoint, {
            _ = try? DaemonHarness.runProcess("/bin/umount", ["-l", mountpoint], env: [:], timeout: 10)
            try? FileManager.default.removeItem(atPath: mountpoint)
        })
    }

    /// Writers through the gateway and a mount fill the disk: the daemon turns read-only, writes
    /// fail with the reason, nothing acknowledged is lost or torn, reads work, and writes resume
    /// once space is freed.
    @Test func writersFillingTheDiskGetClearErrorsLoseNothingAndResumeWhenSpaceIsFreed() throws {
        let (home, release) = try Self.tmpfsHome(192)
        defer { release() }
        let h = try DaemonHarness(home: home) { $0.watchdog.intervalSeconds = 0.3 }
        defer { _ = try? h.run(["stop"]); h.cleanUp() }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("full", quota: "1G")
        let g = try h.mintGrant("full")
        let cache = try DaemonHarness.makeTempDir(prefix: "/tmp/gt-wdc-")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let (mnt, _) = try h.mountWithGrant(g, bucket: "full", extra: ["--cache-dir", cache])
        defer { h.forceUnmount(mnt) }

        // Leave about 70 MiB free, so the writers cross the 10 % threshold within seconds.
        var st = statvfs()
        #expect(statvfs(home, &st) == 0)
        let free = Int64(st.f_bavail) * Int64(st.f_frsize)
        let fill = home + "/fill"
        let fd = open(fill, O_CREAT | O_WRONLY, 0o600)
        #expect(posix_fallocate(fd, 0, off_t(free - (70 << 20))) == 0)
        close(fd)

        let viaGateway = WriteLedger(), viaMount = WriteLedger()
        let refusals = Mutex<Set<String>>([])
        let errnos = Mutex<Set<Int32>>([])
        let client = h.gatewayClient(g)
        let workers = Workers(count: 3) { w, i in
            let data = randomData([1 << 20, 3 << 20, 256 << 10][(w + i) % 3])
            if w < 2 {
                let key = "gw-\(w)-\(i)"
                viaGateway.attempt(key, data)
                do { _ = try client.put(bucket: "full", key: key, body: data); viaGateway.ack(key) } catch {
                    viaGateway.fail()
                    refusals.withLock { _ = $0.insert((error as? S3Error)?.message ?? "\(error)") }
                    usleep(50_000)
                }
            } else {
                let key = "mt-\(i)"
                viaMount.attempt(key, data)
                let e = posixWrite(mnt + "/" + key, data)
                if e == 0 { viaMount.ack(key) } else { viaMount.fail(); errnos.withLock { _ = $0.insert(e) }; usleep(50_000) }
            }
        }
        #expect(eventually(timeout: 60, every: 0.2) { h.metrics()?.contains("garagetytus_mode{mode=\"ro\"} 1") == true })
        #expect(eventually(timeout: 30, every: 0.2) { viaGateway.failed >= 3 && viaMount.failed >= 3 })
        #expect(workers.finish(timeout: 60))
        #expect(refusals.withLock { $0 }.contains { $0.contains("daemon is read-only: disk free") }, "\(refusals.withLock { $0 })")
        #expect(errnos.withLock { $0 }.contains(EROFS), "\(errnos.withLock { $0 })")  // "Read-only file system"

        // Reads work while read-only, and every acknowledged write is there, whole.
        let reader = h.gatewayClient(g)
        let read: (String) throws -> Data? = { key in
            do { return try reader.get(bucket: "full", key: key) } catch let e as S3Error where e.kind == .notFound { return nil }
        }
        #expect(viaGateway.acked > 0 && viaMount.acked > 0)
        let problems = (try viaGateway.verify(read), try viaMount.verify(read))
        #expect(problems.0 == [])
        #expect(problems.1 == [])

        unlink(fill)
        #expect(eventually(timeout: 10, every: 0.2) { h.metrics()?.contains("garagetytus_mode{mode=\"rw\"} 1") == true })
        let after = randomData(1 << 20)
        #expect(eventually(timeout: 10, every: 0.2) { (try? client.put(bucket: "full", key: "after", body: after)) != nil })
        let afterMount = posixWrite(mnt + "/after-mount", after)
        #expect(afterMount == 0, "errno \(afterMount); mount log: \(h.mountLogs().suffix(1500)); engine log: \(LogTail.lines(of: h.paths.engineLog, count: 30).joined(separator: "\n"))")
        #expect(try reader.get(bucket: "full", key: "after-mount") == after)
        print("reliability: disk full: \(viaGateway.acked) PUTs and \(viaMount.acked) mount writes acknowledged " +
              "(\((viaGateway.ackedBytes + viaMount.ackedBytes) >> 20) MiB), \(viaGateway.failed + viaMount.failed) refused; " +
              "lost \(WriteLedger.tally(problems.0 + problems.1).lost), torn \(WriteLedger.tally(problems.0 + problems.1).torn)")
    }
}
