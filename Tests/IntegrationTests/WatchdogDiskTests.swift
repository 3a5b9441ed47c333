import Daemon
import Foundation
import Testing
import TestSupport

/// The watchdog against a real small filesystem: a 64 MiB tmpfs holding the whole home.
@Suite(.serialized) struct WatchdogDiskTests {
    @Test func fillingTheDiskFlipsToReadOnlyWithinTwoTicksAndBack() throws {
        let mountpoint = try DaemonHarness.makeTempDir(prefix: "/tmp/gt-wd-")
        let mount = try DaemonHarness.runProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=64m", "tmpfs", mountpoint],
                                                 env: [:], timeout: 10)
        try #require(mount.status == 0, "cannot mount a tmpfs for the test: \(mount.stderr)")
        defer {
            _ = try? DaemonHarness.runProcess("/bin/umount", ["-l", mountpoint], env: [:], timeout: 10)
            try? FileManager.default.removeItem(atPath: mountpoint)
        }
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
        let filledAt = Date()
        #expect(eventually(timeout: 2 * interval + 1) { h.metrics()?.contains("garagetytus_mode{mode=\"ro\"} 1") == true })
        #expect(Date().timeIntervalSince(filledAt) <= 2 * interval + 1)
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
        let t0 = Date()
        while Date().timeIntervalSince(t0) < 3 * interval { usleep(100_000) }
        #expect(h.metrics()?.contains("garagetytus_mode{mode=\"ro\"} 1") == true)

        unlink(fill)
        #expect(eventually(timeout: 2 * interval + 1) { h.metrics()?.contains("garagetytus_mode{mode=\"rw\"} 1") == true })
        #expect(h.logText().contains("watchdog: mode ro -> rw"))
        #expect(try h.run(["stop"]).status == 0)
    }
}
