import Daemon
import CGaragetytus
import Foundation
import Mount
import S3
import Testing
import TestSupport

/// `garagetytus mount` / `unmount` as a container entrypoint uses them: real processes, real FUSE.
@Suite(.serialized) struct MountCommandTests {
    @Test func unmountFromAnotherHomeSaysWhatItKnowsAndEndsTheLiveMountCleanly() throws {
        let h = try DaemonHarness(name: "mhome")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("work")
        let g = try h.mintGrant("work")
        let (mnt, _) = try h.mountWithGrant(g, bucket: "work")
        defer { h.forceUnmount(mnt) }
        let pid = try #require(h.mountPID(mnt))
        #expect(FileManager.default.createFile(atPath: mnt + "/kept.txt", contents: Data("kept".utf8)))

        // Another home has no record of this mount: it says so, and the live process is asked to
        // end as any unmount asks (it exits by itself, not killed), not told it had died.
        let other = h.home + "/other-home"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        let r = try h.run(["unmount", mnt], env: ["GARAGETYTUS_HOME": other])
        #expect(r.status == 0 && r.stdout.contains("no record of this mount in this home; unmounted"), "\(r.stdout)\(r.stderr)")
        #expect(!r.stdout.contains("died"))
        let deadline = Date().addingTimeInterval(10)
        while Sentinel.processIsAlive(pid) && Date() < deadline { usleep(20_000) }
        #expect(!Sentinel.processIsAlive(pid), "the mount process ended")
        #expect(h.mountLogs().contains("unmounted \(mnt)"), "it ended by its own unmount path")
        #expect(try h.gatewayClient(g).get(bucket: "work", key: "kept.txt") == Data("kept".utf8))
    }

    @Test func mountIsReadyWhenItReturnsRefusesBadInputAndRecoversFromKill9() throws {
        let h = try DaemonHarness(name: "mcmd")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        let id = try EngineIdentity.load(from: h.paths.identityFile)
        let endpoint = h.adminEndpoint.absoluteString  // the daemon's own key, through the front door
        let client = S3Client(endpoint: URL(string: endpoint)!, credentials: .init(accessKeyID: id.accessKeyID, secretAccessKey: id.secretAccessKey))
        try client.createBucket("entry")
        try client.put(bucket: "entry", key: "seed.txt", body: Data("seeded".utf8))
        let creds = ["AWS_ACCESS_KEY_ID": id.accessKeyID, "AWS_SECRET_ACCESS_KEY": id.secretAccessKey]
        let mnt = h.home + "/mnt"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        defer { _ = try? DaemonHarness.runProcess("/bin/umount", ["-l", mnt], env: [:], timeout: 10) }
        let mountArgs = ["mount", "--endpoint", endpoint, "--bucket", "entry", "--xattr", mnt]

        // Ready when it returns: the very next file operation works, no polling.
        let r = try h.run(mountArgs, env: creds)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try String(contentsOfFile: mnt + "/seed.txt", encoding: .utf8) == "seeded")
        #expect(FileManager.default.createFile(atPath: mnt + "/out.txt", contents: Data("written".utf8)))
        #expect(try client.get(bucket: "entry", key: "out.txt") == Data("written".utf8))
        // --xattr: extended attributes are kept, in s3fs's metadata entry.
        #expect(setxattr(mnt + "/out.txt", "user.origin", "cli", 3, 0) == 0, "\(String(cString: strerror(errno)))")
        #expect(S3fsXattrs.decode(try client.head(bucket: "entry", key: "out.txt").metadata["xattr"] ?? "") == ["user.origin": Data("cli".utf8)])

        // The seed's health-check grep works verbatim on .stats; .config shows options, never the secret.
        let grep = try DaemonHarness.runProcess("/bin/grep", ["-E", "^(juicefs_fuse_ops_io_total|juicefs_object_request_data_bytes_GET|juicefs_blockcache_hits)", mnt + "/.stats"],
                                                env: [:], timeout: 10)
        #expect(grep.status == 0 && grep.stdout.split(separator: "\n").count == 3, "\(grep.stdout)")
        #expect(grep.stdout.contains("juicefs_object_request_data_bytes_GET 6"))  // "seeded" was fetched once
        let config = try String(contentsOfFile: mnt + "/.config", encoding: .utf8)
        #expect(config.contains("\"extended_attributes\" : true"), "\(config)")
        #expect(config.contains("\"bucket\" : \"entry\"") && !config.contains(id.secretAccessKey) && !config.contains(id.accessKeyID))
        // What the kernel agreed: 1 MiB writes, no writeback cache (see docs/SEMANTICS.md).
        // 64 background requests; the kernel offers a 128 KiB read-ahead at INIT (a FUSE server
        // can only lower it), so the mount raises this mount's read_ahead_kb to 1 MiB afterwards
        // (we run as root, so it may write /sys) and says so in .config.
        #expect(config.contains("\"fuse_max_write\" : \"1048576\"") && config.contains("\"fuse_writeback_cache\" : \"false\""), "\(config)")
        #expect(config.contains("\"fuse_max_background\" : \"64\""), "\(config)")
        var st = stat()
        #expect(stat(mnt, &st) == 0)
        let bdi = "/sys/class/bdi/\((st.st_dev >> 8) & 0xfff):\((st.st_dev & 0xff) | ((st.st_dev >> 12) & 0xfff00))/read_ahead_kb"
        // Raised just after the first answer from the mount, so polled for (bounded).
        #expect(eventually(timeout: 10) {
            (try? String(contentsOfFile: bdi, encoding: .utf8)) == "1024\n" &&
                (try? String(contentsOfFile: mnt + "/.config", encoding: .utf8))?.contains("\"read_ahead_kb\" : \"1024\"") == true
        }, "\(bdi): \((try? String(contentsOfFile: bdi, encoding: .utf8)) ?? "unreadable")")
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: mnt).contains(".stats")))

        // Refusals, each one line naming what to do.
        let again = try h.run(mountArgs, env: creds)
        #expect(again.status != 0 && again.stderr.contains("already mounted") && again.stderr.contains("garagetytus unmount"))
        let other = h.home + "/other"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        let badKey = try h.run(["mount", "--endpoint", endpoint, "--bucket", "entry", other],
                               env: ["AWS_ACCESS_KEY_ID": id.accessKeyID, "AWS_SECRET_ACCESS_KEY": "wrong"])
        #expect(badKey.status != 0 && badKey.stderr.contains("refused the credentials"), "\(badKey.stderr)")
        let noBucket = try h.run(["mount", "--endpoint", endpoint, "--bucket", "nope", other], env: creds)
        #expect(noBucket.status != 0 && noBucket.stderr.contains("no such bucket nope"), "\(noBucket.stderr)")
        let unreachable = try h.run(["mount", "--endpoint", "http://127.0.0.1:1", "--bucket", "entry", other], env: creds)
        #expect(unreachable.status != 0 && unreachable.stderr.contains("cannot reach"), "\(unreachable.stderr)")
        let missing = try h.run(["mount", "--endpoint", endpoint, "--bucket", "entry", h.home + "/missing"], env: creds)
        #expect(missing.status != 0 && missing.stderr.contains("does not exist"))
        let file = h.home + "/a-file"
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        let notDir = try h.run(["mount", "--endpoint", endpoint, "--bucket", "entry", file], env: creds)
        #expect(notDir.status == 64 && notDir.stderr.contains("is not a directory"), "\(notDir.status) \(notDir.stderr)")
        let full = h.home + "/full"
        try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: URL(fileURLWithPath: full + "/kept.txt"))
        let notEmpty = try h.run(["mount", "--endpoint", endpoint, "--bucket", "entry", full], env: creds)
        #expect(notEmpty.status == 64 && notEmpty.stderr.contains("is not empty") && notEmpty.stderr.contains("empty directory"),
                "\(notEmpty.status) \(notEmpty.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: full) == ["kept.txt"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == Data("x".utf8))
        let noCreds = try h.run(["mount", "--endpoint", endpoint, "--bucket", "entry", other],
                                env: ["AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""])
        #expect(noCreds.status != 0 && noCreds.stderr.contains("--credentials-file"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: other).isEmpty)  // refused mounts change nothing

        // kill -9 of the mount process leaves a dead mountpoint; `mount` recovers it by itself.
        let pid = try #require(registeredPID(h, mnt))
        kill(pid, SIGKILL)
        #expect(eventually(timeout: 5) { (try? FileManager.default.contentsOfDirectory(atPath: mnt)) == nil })
        let recovered = try h.run(mountArgs, env: creds)
        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(recovered.stderr.contains("recovered a stale mount"))
        #expect(try String(contentsOfFile: mnt + "/out.txt", encoding: .utf8) == "written")

        // unmount: clean; and after another kill -9, it cleans up the stale mount.
        let u = try h.run(["unmount", mnt])
        #expect(u.status == 0 && u.stdout.contains("unmounted"), "\(u.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: mnt).isEmpty)
        #expect(try h.run(mountArgs, env: creds).status == 0)
        kill(try #require(registeredPID(h, mnt)), SIGKILL)
        let stale = try h.run(["unmount", mnt])
        #expect(stale.status == 0 && stale.stdout.contains("stale"), "\(stale.stdout) \(stale.stderr)")
        #expect(try h.run(["unmount", mnt]).stderr.contains("is not mounted"))
    }

    func registeredPID(_ h: DaemonHarness, _ mnt: String) -> Int32? {
        let dir = h.paths.dataDir + "/mounts"
        for f in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            if let d = FileManager.default.contents(atPath: dir + "/" + f),
               let j = try? JSONSerialization.jsonObject(with: d) as? [String: Any], j["mountpoint"] as? String == mnt,
               let pid = j["pid"] as? Int { return Int32(pid) }
        }
        return nil
    }
}
