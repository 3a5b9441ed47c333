import Credentials
import Daemon
import Foundation
import Workspaces
import S3
import Synchronization
import Testing
import TestSupport

/// Workspaces and their credentials with a real daemon and real mounts, through `artifacts`.
@Suite struct WorkspaceTests {
    static let artifacts = DaemonHarness.locateBinary("artifacts")

    func artifacts(_ h: DaemonHarness, _ args: [String], env: [String: String] = [:], stdin: String? = nil) throws -> DaemonHarness.Result {
        var e = ProcessInfo.processInfo.environment
        e["GARAGETYTUS_HOME"] = h.home
        for (k, v) in env { e[k] = v }
        if let stdin {
            return try DaemonHarness.runProcess("/bin/sh", ["-c", "printf '%s' \"$GT_STDIN\" | \"$0\" \"$@\"", Self.artifacts] + args,
                                                env: e.merging(["GT_STDIN": stdin]) { $1 }, timeout: 90)
        }
        return try DaemonHarness.runProcess(Self.artifacts, args, env: e, timeout: 90)
    }

    @Test func aManagedWorkspaceRotatesTwiceAndRenewsUnderAWriterWithoutASingleFailedWrite() throws {
        let h = try DaemonHarness(name: "wsrot")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.startWithHooks().status == 0)
        let created = try artifacts(h, ["workspace", "create", "cases", "--ttl", "24h", "--quota", "1G"])
        #expect(created.status == 0, "\(created.stderr)")
        let mnt = h.home + "/work"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        defer { _ = try? artifacts(h, ["unmount", mnt]) }
        let m = try artifacts(h, ["mount", "cases", mnt])
        #expect(m.status == 0, "\(m.stderr)")

        // A writer loop: every file is written and closed; a failed write or close is counted.
        let failures = Mutex<[String]>([]), written = Atomic<Int>(0), stop = Atomic<Bool>(false)
        let writer = Thread {
            var i = 0
            while !stop.load(ordering: .relaxed) {
                let path = "\(mnt)/w-\(i).txt"
                let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
                let body = Array("write \(i)\n".utf8)
                if fd < 0 || write(fd, body, body.count) != body.count || close(fd) != 0 {
                    failures.withLock { $0.append("\(path): errno \(errno)") }
                }
                written.add(1, ordering: .relaxed)
                i += 1
                usleep(20_000)
            }
        }
        writer.start()
        var retired: [String] = []
        for _ in 0..<2 {
            #expect(eventually(timeout: 10) { written.load(ordering: .relaxed) >= retired.count * 20 + 10 })
            let before = try WorkspaceStore(configDir: h.paths.configDir).loadCredentials("cases")?.grantID
            // The default grace is 5 minutes, but the mount reports its switch, so the old grant goes at once.
            let r = try artifacts(h, ["workspace", "rotate", "cases"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("\(before ?? "?") is revoked (every mount switched)"), "\(r.stdout)")
            retired += [before ?? "?"]
        }
        // Both old grants are revoked (the gateway refuses them) while the writer kept going.
        let grants = { try JSONDecoder().decode([GrantInfo].self, from: Data(try h.run(["bucket", "grants", "cases", "--json"]).stdout.utf8)) }
        #expect(try eventually(timeout: 10) { try grants().filter { retired.contains($0.grantID) }.allSatisfy { $0.state == "revoked" } })
        // Renewal: when the cached grant nears its end the daemon re-issues it into the cache by itself.
        let store = WorkspaceStore(configDir: h.paths.configDir)
        let ending = try #require(try store.loadCredentials("cases")?.grantID)
        // (30 s of life left: the janitor looks every 10 s, with room for a slow, busy machine.)
        try h.expireSoon(grant: ending, in: 30)
        #expect(eventually(timeout: 28, every: 0.5) { ((try? store.loadCredentials("cases"))??.grantID).map { $0 != ending } ?? false })
        #expect(try store.loadCredentials("cases")?.source.contains("renewed by the daemon") == true)
        retired.append(ending)
        #expect(try eventually(timeout: 40, every: 0.5) { try grants().first { $0.grantID == ending }.map { ["expired", "revoked"].contains($0.state) } == true })
        let target = written.load(ordering: .relaxed) + 30
        #expect(eventually(timeout: 20) { written.load(ordering: .relaxed) >= target })
        stop.store(true, ordering: .relaxed)
        while !writer.isFinished { usleep(10_000) }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 }.prefix(5))")
        let n = written.load(ordering: .relaxed)
        let keys = Set(try h.engineClient().listAll(bucket: "cases").objects.map(\.key))
        #expect((0..<n).allSatisfy { keys.contains("w-\($0).txt") }, "\(n) written, \(keys.count) stored")
        let active = try grants().filter { $0.state == "active" }
        let cachedID = try WorkspaceStore(configDir: h.paths.configDir).loadCredentials("cases")?.grantID
        #expect(active.count == 1 && active.first?.grantID == cachedID)
    }

    @Test func aFreshContainerMountsThroughTheEntrypointWithEnvironmentCredentialsOnly() throws {
        let h = try DaemonHarness(name: "wsent")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("panta-cases")
        let g = try h.mintGrant("panta-cases")
        try h.engineClient().put(bucket: "panta-cases", key: "case-1.txt", body: Data("case one\n".utf8))

        // A fresh user: empty HOME, no cache, credentials and storage only in the environment.
        let fresh = try DaemonHarness.makeTempDir(prefix: "/tmp/gt-fresh-")
        defer { try? FileManager.default.removeItem(atPath: fresh) }
        let mnt = fresh + "/mnt/work"
        let entry = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/entrypoint.sh").path
        var env = ["HOME": fresh, "GARAGETYTUS_HOME": fresh + "/gt", "PATH": (Self.artifacts as NSString).deletingLastPathComponent + ":/usr/bin:/bin",
                   "ARTIFACTS_WORKSPACE": "cases", "ARTIFACTS_MOUNTPOINT": mnt,
                   "ARTIFACTS_S3_ENDPOINT": h.gatewayURL, "ARTIFACTS_S3_BUCKET": "panta-cases",
                   "ARTIFACTS_S3_ACCESS_KEY_ID": g.accessKey, "ARTIFACTS_S3_SECRET_ACCESS_KEY": g.secretKey]
        defer { _ = try? DaemonHarness.runProcess(Self.artifacts, ["unmount", mnt], env: env, timeout: 30) }
        let run = try DaemonHarness.runProcess("/bin/bash", [entry, "/bin/cat", mnt + "/case-1.txt"], env: env, timeout: 60)
        #expect(run.status == 0 && run.stdout.hasSuffix("case one\n"), "\(run.stdout) \(run.stderr)")  // after the mount's own line
        // The next boot finds the mountpoint stale (the mount process was killed): the entrypoint mounts again.
        let registry = fresh + "/gt/data/mounts"
        let record = try #require(try FileManager.default.contentsOfDirectory(atPath: registry).first)
        let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: registry + "/" + record))) as? [String: Any]
        kill(Int32(try #require((obj?["pid"] as? NSNumber)?.int32Value)), SIGKILL)
        #expect(eventually(timeout: 5) { access(mnt + "/case-1.txt", F_OK) != 0 })
        let again = try DaemonHarness.runProcess("/bin/bash", [entry, "/bin/cat", mnt + "/case-1.txt"], env: env, timeout: 60)
        #expect(again.status == 0 && again.stdout.hasSuffix("case one\n"), "\(again.stdout) \(again.stderr)")
        _ = try DaemonHarness.runProcess(Self.artifacts, ["unmount", mnt], env: env, timeout: 30)

        // Wrong keys: the entrypoint exits non-zero with the endpoint's reason, nothing is left mounted.
        env["ARTIFACTS_S3_SECRET_ACCESS_KEY"] = "wrong"
        let bad = try DaemonHarness.runProcess("/bin/bash", [entry, "/bin/true"], env: env, timeout: 60)
        #expect(bad.status != 0 && bad.stderr.contains("refused"), "\(bad.stderr)")
        #expect(!(try String(contentsOfFile: "/proc/mounts", encoding: .utf8)).contains(mnt))
    }

    @Test func bringYourOwnWorkspaceAndBadInput() throws {
        let h = try DaemonHarness(name: "wsbyo")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("mine")
        let g = try h.mintGrant("mine")
        // Wrong keys: refused with the endpoint's answer, nothing saved.
        let wrong = try artifacts(h, ["workspace", "create", "own", "--endpoint", h.gatewayURL, "--bucket", "mine", "--access-key-id", g.accessKey, "--secret-stdin"],
                                  stdin: "not-the-secret")
        #expect(wrong.status != 0 && wrong.stderr.contains("refused"), "\(wrong.stderr)")
        #expect(try artifacts(h, ["workspace", "show", "own"]).status == 64)
        let ok = try artifacts(h, ["workspace", "create", "own", "--endpoint", h.gatewayURL, "--bucket", "mine", "--access-key-id", g.accessKey, "--secret-stdin"],
                               stdin: g.secretKey + "\n")
        #expect(ok.status == 0, "\(ok.stderr)")
        let list = try artifacts(h, ["--format", "json", "workspace", "list"])
        let views = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]], "\(list.stdout) \(list.stderr)")
        #expect(views.count == 1 && views[0]["kind"] as? String == "byo" && views[0]["access_key"] as? String == CachedCredentials.mask(g.accessKey))
        #expect(!list.stdout.contains(g.secretKey))
        let credFile = WorkspaceStore(configDir: h.paths.configDir).credentialsPath("own")
        var st = stat()
        #expect(stat(credFile, &st) == 0 && st.st_mode & 0o777 == 0o600)
        // A token of your own keys is listed as handed out, and cannot be revoked here.
        let token = try artifacts(h, ["key", "create", "--workspace", "own", "--mode", "ro", "--ttl", "1h", "--name", "ci"])
        #expect(token.status == 0 && token.stdout.hasPrefix("gtk1."), "\(token.stderr)")
        let issued = try JSONSerialization.jsonObject(with: Data(try artifacts(h, ["key", "list", "--workspace", "own", "--format", "json"]).stdout.utf8)) as? [[String: Any]]
        #expect(issued?.count == 1 && issued?[0]["name"] as? String == "ci" && issued?[0]["mode"] as? String == "ro")
        #expect(!(try artifacts(h, ["key", "list", "--workspace", "own"]).stdout.contains(g.secretKey)))
        let keyID = try #require(issued?[0]["id"] as? String)
        let revoke = try artifacts(h, ["key", "revoke", keyID])
        #expect(revoke.status != 0 && revoke.stderr.contains("rotate the keys at your provider"), "\(revoke.stderr)")

        let refused: [([String], String)] = [
            (["workspace", "create", "Bad_Name"], "invalid workspace name"),
            (["workspace", "create", "own", "--endpoint", h.gatewayURL, "--bucket", "mine"], "already exists"),
            (["workspace", "show", "nosuch"], "no workspace named \"nosuch\""),
            (["workspace", "delete", "own"], "needs --yes"),
            (["mount", "nosuch", h.home + "/m"], "no workspace named"),
            (["workspace", "rotate", "own"], "rotate them at your provider"),
            (["storage", "set", "--workspace", "own"], "no keys given"),
        ]
        for (args, message) in refused {
            let r = try artifacts(h, args)
            #expect(r.status != 0 && r.stderr.hasPrefix("error: ") && r.stderr.split(separator: "\n").count == 1 && r.stderr.contains(message),
                    "\(args): \(r.status) \(r.stderr)")
        }
        // A cache file others can read is refused with the fix, and left as it is.
        chmod(credFile, 0o644)
        let loose = try artifacts(h, ["storage", "show", "--workspace", "own"])
        #expect(loose.status == 65 && loose.stderr.contains("chmod 600"), "\(loose.stderr)")
        chmod(credFile, 0o600)
        // Concurrent `storage set`: the last one wins, the file is never torn.
        let group = DispatchGroup()
        for i in 0..<8 {
            DispatchQueue.global().async(group: group) {
                _ = try? self.artifacts(h, ["storage", "set", "--workspace", "own", "--access-key-id", "AKRACE\(i)", "--secret-access-key", "secret\(i)"])
            }
        }
        group.wait()
        let raced = try #require(try WorkspaceStore(configDir: h.paths.configDir).loadCredentials("own"))
        #expect(raced.accessKeyID.hasPrefix("AKRACE") && raced.secretAccessKey == "secret" + raced.accessKeyID.dropFirst(6))
        // storage set replaces the cache; delete removes config and cache, never the data.
        #expect(try artifacts(h, ["storage", "set", "--access-key-id", g.accessKey, "--secret-access-key", g.secretKey]).status == 0)
        #expect(try artifacts(h, ["storage", "show"]).stdout.contains("from storage set"))
        let del = try artifacts(h, ["workspace", "delete", "own", "--yes"])
        #expect(del.status == 0 && del.stdout.contains("aws s3 rm s3://mine/"), "\(del.stdout)")
        #expect(!FileManager.default.fileExists(atPath: credFile))
        #expect(try artifacts(h, ["workspace", "list"]).stdout.contains("no workspaces"))
    }

    @Test func theSeedsDay2CommandsWorkAsWritten() throws {
        let h = try DaemonHarness(name: "wsseed")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        // The runbook's `workspace create` takes no flags: a bucket for 7 days with 10G, and it says so.
        let created = try artifacts(h, ["workspace", "create", "cases"])
        #expect(created.status == 0 && created.stdout.contains("TTL 7d, quota 10G (the defaults"), "\(created.stdout)\(created.stderr)")
        let bucket = try h.run(["bucket", "info", "cases", "--json"])
        #expect(bucket.stdout.contains("\"ttl\" : \"7d\"") || bucket.stdout.contains("\"ttl\": \"7d\""), "\(bucket.stdout)")
        #expect(bucket.stdout.contains("\"quota\" : \"10G\"") || bucket.stdout.contains("\"quota\": \"10G\""), "\(bucket.stdout)")
        // Permanent still needs the confirmation.
        let permanent = try artifacts(h, ["workspace", "create", "forever", "--ttl", "permanent"])
        #expect(permanent.status != 0 && permanent.stderr.contains("confirm"), "\(permanent.stderr)")
        try h.engineClient().put(bucket: "cases", key: "notes.txt", body: Data("day two\n".utf8))
        let keys = try #require(try WorkspaceStore(configDir: h.paths.configDir).loadCredentials("cases"))
        let mnt = h.home + "/mnt/work"
        defer { _ = try? artifacts(h, ["unmount", mnt]) }
        // The seed's lines, in its order, with the mountpoint moved under the test's home.
        let script = """
            set -euo pipefail
            mkdir -p \(mnt)
            artifacts mount cases \(mnt)
            cat \(mnt)/notes.txt
            artifacts storage set \\
                --access-key-id \(keys.accessKeyID) \\
                --secret-access-key \(keys.secretAccessKey)
            artifacts unmount \(mnt)
            artifacts mount cases \(mnt)
            artifacts workspace list
            artifacts --format json workspace list | jq .
            artifacts workspace show cases
            grep -E '^(juicefs_fuse_ops_io_total|juicefs_object_request_data_bytes_GET|juicefs_blockcache_hits)' \\
                \(mnt)/.stats
            artifacts unmount \(mnt)
            artifacts workspace delete cases --yes
            """
        var env = ProcessInfo.processInfo.environment
        env["GARAGETYTUS_HOME"] = h.home
        env["PATH"] = (Self.artifacts as NSString).deletingLastPathComponent + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        let r = try DaemonHarness.runProcess("/bin/bash", ["-c", script], env: env, timeout: 120)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("day two") && r.stdout.contains("\"id\": \"cases\"") && r.stdout.contains("juicefs_fuse_ops_io_total"),
                "\(r.stdout)")
        // `workspace show`: the storage block's fields one a line, as the runbook names them.
        for field in ["  bucket:       cases", "  endpoint:     \(h.gatewayURL)", "  region:       ", "  status:       mounted", "  access key:   "] {
            #expect(r.stdout.contains(field), "\(field) in \(r.stdout)")
        }
        #expect(r.stdout.contains("deleted workspace cases"))
        #expect(try h.engineClient().get(bucket: "cases", key: "notes.txt") == Data("day two\n".utf8))  // the data stay
    }

    @Test func serviceTokensSetUpAFreshHostReadOnlyOrReadWriteAndDieWhenRevoked() throws {
        let h = try DaemonHarness(name: "wstok")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        #expect(try artifacts(h, ["workspace", "create", "cases", "--ttl", "24h", "--quota", "1G"]).status == 0)
        try h.engineClient().put(bucket: "cases", key: "a.txt", body: Data("token me\n".utf8))
        let ro = try artifacts(h, ["key", "create", "--workspace", "cases", "--mode", "ro", "--ttl", "1h", "--name", "ci"])
        #expect(ro.status == 0 && ro.stdout.hasPrefix("gtk1."), "\(ro.stderr)")
        let roToken = ro.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let rw = try artifacts(h, ["key", "create", "--workspace", "cases", "--mode", "rw", "--ttl", "30m"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let keys = try artifacts(h, ["key", "list", "--workspace", "cases", "--format", "json"])
        #expect(keys.stdout.contains("\"label\" : \"key:ci\""), "\(keys.stdout)")

        // A fresh host with only ARTIFACTS_TOKEN (ro): mounts read-only; the daemon would refuse writes too.
        let fresh = try DaemonHarness.makeTempDir(prefix: "/tmp/gt-tok-")
        defer { try? FileManager.default.removeItem(atPath: fresh) }
        let mnt = fresh + "/mnt"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        var env = ["HOME": fresh, "GARAGETYTUS_HOME": fresh + "/gt", "ARTIFACTS_TOKEN": roToken, "PATH": "/usr/bin:/bin"]
        defer { _ = try? DaemonHarness.runProcess(Self.artifacts, ["unmount", mnt], env: env, timeout: 30) }
        let m = try DaemonHarness.runProcess(Self.artifacts, ["mount", "cases", mnt], env: env, timeout: 60)
        #expect(m.status == 0, "\(m.stderr)")
        #expect(try String(contentsOfFile: mnt + "/a.txt", encoding: .utf8) == "token me\n")
        #expect(open(mnt + "/new.txt", O_CREAT | O_WRONLY, 0o644) == -1 && errno == EROFS)
        _ = try DaemonHarness.runProcess(Self.artifacts, ["unmount", mnt], env: env, timeout: 30)

        // `storage set --token` (rw) on another fresh host: the workspace and its cache appear; writes work.
        env["ARTIFACTS_TOKEN"] = nil
        env["GARAGETYTUS_HOME"] = fresh + "/gt2"
        let set = try DaemonHarness.runProcess(Self.artifacts, ["storage", "set", "--token", rw], env: env, timeout: 30)
        #expect(set.status == 0, "\(set.stderr)")
        // A token on the command line works, and says that every user could read it there.
        #expect(set.stderr.hasPrefix("warning: --token puts the secret in the process list"), "\(set.stderr)")
        // Out of argv: from standard input, and from ARTIFACTS_TOKEN; both set up the same workspace, silently.
        for (home, how) in [("/gt3", "stdin"), ("/gt4", "env")] {
            var e = env
            e["GARAGETYTUS_HOME"] = fresh + home
            let r = how == "stdin"
                ? try DaemonHarness.runProcess("/bin/sh", ["-c", "printf '%s\\n' \"$T\" | \"$0\" storage set --token-stdin", Self.artifacts],
                                               env: e.merging(["T": rw]) { $1 }, timeout: 30)
                : try DaemonHarness.runProcess(Self.artifacts, ["storage", "set"], env: e.merging(["ARTIFACTS_TOKEN": rw]) { $1 }, timeout: 30)
            #expect(r.status == 0 && r.stderr.isEmpty && r.stdout.contains("set up from a service token"), "\(how): \(r.stdout) \(r.stderr)")
            #expect(try WorkspaceStore(configDir: fresh + home + "/config").loadCredentials("cases")?.accessKeyID == (try ServiceToken.decode(rw)).accessKeyID)
        }
        let both = try DaemonHarness.runProcess(Self.artifacts, ["storage", "set", "--token", rw, "--token-stdin"], env: env, timeout: 30)
        #expect(both.status == 64 && both.stderr.split(separator: "\n").count == 1, "\(both.stderr)")
        #expect(try DaemonHarness.runProcess(Self.artifacts, ["mount", "cases", mnt], env: env, timeout: 60).status == 0)
        #expect(FileManager.default.createFile(atPath: mnt + "/from-token.txt", contents: Data("rw\n".utf8)))
        #expect(try h.engineClient().get(bucket: "cases", key: "from-token.txt") == Data("rw\n".utf8))
        _ = try DaemonHarness.runProcess(Self.artifacts, ["unmount", mnt], env: env, timeout: 30)

        // Revoked: the next mount fails before mounting, with the endpoint's reason.
        let id = try #require(try ServiceToken.decode(rw).grantID)
        #expect(try artifacts(h, ["key", "revoke", id]).status == 0)
        let refused = try DaemonHarness.runProcess(Self.artifacts, ["mount", "cases", mnt], env: env, timeout: 60)
        #expect(refused.status != 0 && refused.stderr.contains("was revoked"), "\(refused.stderr)")
        #expect(!(try String(contentsOfFile: "/proc/mounts", encoding: .utf8)).contains(mnt))
        let garbage = try DaemonHarness.runProcess(Self.artifacts, ["storage", "set", "--token", "nonsense"], env: env, timeout: 30)
        #expect(garbage.status == 64 && garbage.stderr.contains("not a garagetytus service token"))
    }

    @Test func statusStatsAndHealthzSeeTheMountsAndNoticeADeadOne() throws {
        let h = try DaemonHarness(name: "wsst")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        #expect(try artifacts(h, ["workspace", "create", "cases", "--ttl", "24h", "--quota", "1G"]).status == 0)
        let mnt = h.home + "/mnt"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        defer { _ = try? artifacts(h, ["unmount", mnt]) }
        #expect(try artifacts(h, ["mount", "cases", mnt]).status == 0)
        #expect(FileManager.default.createFile(atPath: mnt + "/f.txt", contents: Data(count: 4096)))

        let health = try artifacts(h, ["healthz"])
        #expect(health.status == 0 && health.stdout == "ok\n", "\(health.stdout)")
        let status = try artifacts(h, ["--format", "json", "status"])
        let st = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any], "\(status.stdout)")
        let mounts = try #require(st["mounts"] as? [[String: Any]])
        #expect(mounts.count == 1 && mounts[0]["responsive"] as? Bool == true && mounts[0]["workspace"] as? String == "cases")
        #expect((st["daemon"] as? [String: Any])?["healthy"] as? Bool == true)
        #expect(try eventually(timeout: 5, every: 0.3) {
            let stats = try artifacts(h, ["stats", "cases", "--window", "1h", "--format", "json"])
            let rows = try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [[String: Any]]
            return (rows?.first?["bytes_written"] as? Int ?? 0) >= 4096 && (rows?.first?["mount_bytes_written"] as? Int ?? 0) == 4096
        })

        // The mount process dies (kill -9): healthz says so and exits non-zero.
        let pid = try #require(mounts[0]["pid"] as? Int)
        kill(Int32(pid), SIGKILL)
        #expect(try eventually(timeout: 5) { try artifacts(h, ["healthz"]).status == 1 })
        let after = try artifacts(h, ["healthz"])
        #expect(after.stdout.contains("does not answer") && after.stdout.contains(mnt), "\(after.stdout)")
        #expect(try artifacts(h, ["unmount", mnt]).status == 0)
        #expect(try artifacts(h, ["healthz"]).status == 0)

        // The workspace's bucket is expired by the daemon: the workspace shows `deleted`.
        #expect(try artifacts(h, ["workspace", "show", "cases"]).stdout.contains("  status:       active"))
        let shown = try JSONSerialization.jsonObject(with: Data(try artifacts(h, ["--format", "json", "workspace", "show", "cases"]).stdout.utf8)) as? [String: Any]
        let bucket = try #require((shown?["storage"] as? [String: Any])?["bucket"] as? String)
        #expect(try h.run(["bucket", "expire", bucket]).status == 0)
        #expect(try eventually(timeout: 10, every: 0.3) {
            try artifacts(h, ["workspace", "show", "cases"]).stdout.contains("  status:       deleted")
        })
    }

    @Test func ownKeysRotatedAtTheProviderAreTakenFromTheCacheWhenTheOldOnesAreRefused() throws {
        let h = try DaemonHarness(name: "wsbyorot")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("theirs")
        let a = try h.mintGrant("theirs"), b = try h.mintGrant("theirs")
        #expect(try artifacts(h, ["workspace", "create", "own", "--endpoint", h.gatewayURL, "--bucket", "theirs",
                                  "--access-key-id", a.accessKey, "--secret-access-key", a.secretKey]).status == 0)
        let mnt = h.home + "/mnt"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        defer { _ = try? artifacts(h, ["unmount", mnt]) }
        #expect(try artifacts(h, ["mount", "own", mnt]).status == 0)
        func write(_ i: Int) -> Bool {
            let fd = open("\(mnt)/f-\(i).txt", O_CREAT | O_WRONLY | O_TRUNC, 0o644)
            return fd >= 0 && Glibc.write(fd, "x", 1) == 1 && close(fd) == 0
        }
        #expect((0..<5).allSatisfy(write))
        // The provider rotates: new keys cached, then the old ones revoked. Not one write fails.
        #expect(try artifacts(h, ["storage", "set", "--access-key-id", b.accessKey, "--secret-access-key", b.secretKey]).status == 0)
        #expect((5..<10).allSatisfy(write))
        #expect(try h.run(["bucket", "revoke", a.grantID]).status == 0)
        let failed = (10..<30).filter { !write($0) }
        #expect(failed.isEmpty, "\(failed)")
        #expect(Set(try h.engineClient().listAll(bucket: "theirs").objects.map(\.key)).count == 30)
    }
}
