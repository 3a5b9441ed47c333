import Credentials
import Daemon
import Foundation
import S3
import Testing
import TestSupport

/// Mount options a user notices from another account or another tool: `--allow-other` and
/// `--read-only`, through the real command and the kernel.
@Suite(.serialized) struct MountOptionsTests {
    @Test func allowOtherLetsAnotherUserInAndReadOnlyRefusesWrites() throws {
        let h = try DaemonHarness(name: "mopts")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        let id = try EngineIdentity.load(from: h.paths.identityFile)
        let client = try h.engineClient()
        try client.createBucket("opts")
        try client.put(bucket: "opts", key: "seed.txt", body: Data("seeded".utf8))
        let creds = ["AWS_ACCESS_KEY_ID": id.accessKeyID, "AWS_SECRET_ACCESS_KEY": id.secretAccessKey]
        let mnt = h.home + "/mnt"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        // The other user must be able to reach the mountpoint.
        chmod(h.home, 0o755)
        defer { _ = try? DaemonHarness.runProcess("/bin/umount", ["-l", mnt], env: [:], timeout: 10) }
        let base = ["mount", "--endpoint", h.adminEndpoint.absoluteString, "--bucket", "opts", mnt]
        func asNobody(_ args: [String]) throws -> DaemonHarness.Result {
            try DaemonHarness.runProcess("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups"] + args, env: [:], timeout: 20)
        }

        // Without --allow-other, FUSE keeps every other user out.
        var r = try h.run(base, env: creds)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try asNobody(["/bin/cat", mnt + "/seed.txt"]).status != 0)
        #expect(try h.run(["unmount", mnt]).status == 0)

        // With it, file modes decide (seed.txt is 0644: readable, not writable).
        r = try h.run(base + ["--allow-other"], env: creds)
        #expect(r.status == 0, "\(r.stderr)")
        let cat = try asNobody(["/bin/cat", mnt + "/seed.txt"])
        #expect(cat.status == 0 && cat.stdout == "seeded", "\(cat.stderr)")
        #expect(try asNobody(["/bin/sh", "-c", "echo x >> \(mnt)/seed.txt"]).status != 0)
        #expect(try h.run(["unmount", mnt]).status == 0)

        // --read-only: reads work, every write is EROFS and nothing reaches the bucket.
        r = try h.run(base + ["--read-only"], env: creds)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try String(contentsOfFile: mnt + "/seed.txt", encoding: .utf8) == "seeded")
        let fd = open(mnt + "/new.txt", O_WRONLY | O_CREAT, 0o644)
        #expect(fd == -1 && errno == EROFS)
        #expect(mkdir(mnt + "/d", 0o755) == -1 && errno == EROFS)
        #expect(try h.run(["unmount", mnt]).status == 0)
        #expect(try client.listAll(bucket: "opts").objects.map(\.key) == ["seed.txt"])

        // Objects without metadata get the defaults asked for; bad modes are refused before mounting.
        try client.put(bucket: "opts", key: "dir/inner.txt", body: Data("x".utf8))
        r = try h.run(base + ["--uid", "1234", "--gid", "5678", "--file-mode", "0600", "--dir-mode", "0710"], env: creds)
        #expect(r.status == 0, "\(r.stderr)")
        let fileAttrs = try FileManager.default.attributesOfItem(atPath: mnt + "/seed.txt")
        #expect(fileAttrs[.posixPermissions] as? Int == 0o600)
        #expect(fileAttrs[.ownerAccountID] as? Int == 1234 && fileAttrs[.groupOwnerAccountID] as? Int == 5678)
        #expect(try FileManager.default.attributesOfItem(atPath: mnt + "/dir")[.posixPermissions] as? Int == 0o710)
        #expect(try String(contentsOfFile: mnt + "/.config", encoding: .utf8).contains("\"default_file_mode\" : \"600\""))
        #expect(try h.run(["unmount", mnt]).status == 0)
        for bad in [["--file-mode", "999"], ["--dir-mode", "rwx"], ["--file-mode", "17777"]] {
            let refused = try h.run(base + bad, env: creds)
            #expect(refused.status == 64 && refused.stderr.split(separator: "\n").count == 1 && refused.stderr.contains(bad[0]),
                    "\(bad): \(refused.stderr)")
        }
        let badUID = try h.run(base + ["--uid", "nobody"], env: creds)  // the argument parser's own refusal
        #expect(badUID.status == 64 && badUID.stderr.contains("--uid"), "\(badUID.stderr)")
        #expect(!S3fsInteropTests.isMounted(mnt, type: "fuse.garagetytus"))

        // A credentials file in a grant's shape, with its expiry: .stats shows when it ends.
        let file = h.home + "/grant.json"
        let grant = ["grant_id": "g_20990101_0a1b2c3d", "access_key": id.accessKeyID, "secret_key": id.secretAccessKey,
                     "endpoint_url": h.adminEndpoint.absoluteString, "expires_at": "2099-01-01T00:00:00Z"]
        try SecretFile.write(try JSONSerialization.data(withJSONObject: grant), to: file)
        r = try h.run(base + ["--credentials-file", file])
        #expect(r.status == 0, "\(r.stderr)")
        let stats = try String(contentsOfFile: mnt + "/.stats", encoding: .utf8)
        #expect(stats.contains("garagetytus_credential_expiry_timestamp_seconds 4070908800"), "\(stats)")
        #expect(try h.run(["unmount", mnt]).status == 0)
        var broken = grant
        broken["expires_at"] = "tomorrow"
        try SecretFile.write(try JSONSerialization.data(withJSONObject: broken), to: file)
        let refused = try h.run(base + ["--credentials-file", file])
        #expect(refused.status == 65 && refused.stderr.contains("expires_at tomorrow"), "\(refused.stderr)")
    }
}
