import Daemon
import Foundation
import Synchronization
import Testing
import TestSupport
import Workspaces
#if canImport(Glibc)
import Glibc
#endif

/// The daemon on an existing SeaweedFS cluster (`[engine] kind = "cluster"`), across hosts made of
/// network namespaces (TestSupport.NetnsCluster): the cluster's master, filer and S3 server on
/// host 1, a volume server on each of hosts 2–4, daemon A on host 2, daemon B on host 3 (one set
/// of buckets and grants, shared through the cluster), a mount on host 4.
/// Six engine processes, a daemon and a mount under write load: run alone by scripts/test.sh after
/// the parallel suite (GT_HEAVY=1), whose timing-sensitive tests it would starve.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["GT_HEAVY"] != nil, "heavy: run alone by scripts/test.sh"),
       .enabled(if: NetnsCluster.unavailable == nil, "\(NetnsCluster.unavailable ?? "")"))
struct ClusterTests {
    /// A daemon configured for the cluster; `start` runs it on host `host`.
    /// Its gateway serves the other hosts over HTTPS with a certificate `certs` signed for its address.
    func daemon(on cluster: NetnsCluster, host: Int, certs: TestCertificates, filer: String? = nil, maxStaleness: Double = 30) throws -> DaemonHarness {
        let h = try DaemonHarness(name: "cl") { c in
            c.listenAddress = cluster.address(host)
            c.gateway.tlsCert = certs.cert
            c.gateway.tlsKey = certs.key
            c.gatewayPort = 3900
            c.metricsPort = 3904
            c.engine.kind = "cluster"
            c.engine.masters = ["\(cluster.address(1)):9333"]
            c.engine.filer = filer ?? "\(cluster.address(1)):8888"
            c.engine.s3Endpoint = "http://\(cluster.address(1)):8333"
            c.engine.identityFile = cluster.identityFile
            c.engine.maxStalenessSeconds = maxStaleness
            c.engine.securityFile = cluster.securityFile
        }
        h.wrapper = cluster.on(host)
        return h
    }

    /// Polls the gateway on `host`'s address from host 4 with `grant` (a listing, every 50 ms)
    /// until the answer is `until` ("ok" or an S3 error code, with `message` in its text); the
    /// Unix time it first was, or nil after `timeout`. Writes `ready` once it has sent one request.
    func poll(_ cluster: NetnsCluster, host: Int, ca: String, grant: GrantEnvelope, until: String, message: String = "",
              ready: String = "/dev/null", timeout: Double = 30) throws -> Double? {
        let r = try cluster.run(on: 4, ["/usr/bin/env", "python3", "-c", """
            import boto3, botocore, time, sys
            from botocore.config import Config
            s3 = boto3.client('s3', endpoint_url='https://\(cluster.address(host)):3900', aws_access_key_id='\(grant.accessKey)',
                              aws_secret_access_key='\(grant.secretKey)', region_name='us-east-1', verify='\(ca)',
                              config=Config(retries={'max_attempts': 1}, connect_timeout=2, read_timeout=5))
            end = time.time() + \(timeout)
            while time.time() < end:
                try:
                    s3.list_objects_v2(Bucket='shared', MaxKeys=1); got, text = 'ok', ''
                except botocore.exceptions.ClientError as e:
                    got, text = e.response['Error'].get('Code', ''), str(e)
                except Exception as e:
                    got, text = 'transport', str(e)
                open('\(ready)', 'w').close()
                if got == '\(until)' and '\(message)' in text:
                    print(time.time()); sys.exit(0)
                time.sleep(0.05)
            print('timeout: last answer', got, text); sys.exit(1)
            """], timeout: timeout + 30)
        return r.status == 0 ? Double(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) : nil
    }

    @Test(.timeLimit(.minutes(10))) func twoDaemonsOnAClusterShareGrantsServeAMountAndLoseNothingWhenAVolumeServerDies() throws {
        let cluster = try NetnsCluster(hosts: 4)
        defer { cluster.down() }
        for d in ["a", "b"] { try FileManager.default.createDirectory(atPath: cluster.dir + "/" + d, withIntermediateDirectories: true) }
        let certs = try TestCertificates(in: cluster.dir + "/a", ip: cluster.address(2))
        let certsB = try TestCertificates(in: cluster.dir + "/b", ip: cluster.address(3))

        // A filer that does not answer is named as such, and nothing starts.
        let wrong = try daemon(on: cluster, host: 2, certs: certs, filer: "\(cluster.address(1)):8889")
        let refused = try wrong.run(["start"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("the cluster's filer \(cluster.address(1)):8889 does not answer"), "\(refused.stderr)")
        wrong.cleanUp()

        let h = try daemon(on: cluster, host: 2, certs: certs)
        defer { _ = try? h.run(["stop"]); h.cleanUp() }
        let b = try daemon(on: cluster, host: 3, certs: certsB, maxStaleness: 4)
        defer { _ = try? b.run(["stop"]); b.cleanUp() }
        for d in [h, b] {
            let started = try d.run(["start"])
            try #require(started.status == 0, "\(started.stderr)")
        }
        let status = try h.status()
        #expect((status["engine"] as? [String: Any])?["kind"] as? String == "seaweedfs-cluster")
        try h.createBucket("shared", quota: "2G")
        let grant = try h.mintGrant("shared")
        let creds = h.home + "/grant.json"
        try JSONEncoder().encode(grant).write(to: URL(fileURLWithPath: creds))
        chmod(creds, 0o600)

        // A bucket made and a grant minted on A work at B's gateway within 2 s; a second bucket of
        // that name is refused at B; B's own grants count against the same limits.
        let minted = Date().timeIntervalSince1970
        let works = try poll(cluster, host: 3, ca: certsB.ca, grant: grant, until: "ok")
        #expect(works.map { $0 - minted < 2 } == true, "a grant minted on A worked at B after \(works.map { $0 - minted } ?? -1) s")
        let twice = try b.run(["bucket", "create", "shared", "--ttl", "24h", "--quota", "1G"])
        #expect(twice.status != 0 && twice.stderr.contains("already exists"), "\(twice.stderr)")

        // The mount runs on host 4 and reaches B's gateway on host 3 over the bridge, by HTTPS
        // (plain HTTP is for loopback only), with the grant A minted.
        let mnt = h.home + "/mnt"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        func mount() throws {
            let r = try cluster.run(on: 4, ["/usr/bin/env", "GARAGETYTUS_HOME=" + h.home, h.binary, "mount", "--endpoint", "https://\(cluster.address(3)):3900", "--bucket", "shared",
                                            "--credentials-file", creds, "--ca-file", certsB.ca, "--no-data-cache", mnt])
            try #require(r.status == 0, "mount on host 4: \(r.stderr)")
        }
        func unmount() { _ = try? DaemonHarness.runProcess("/bin/umount", [mnt], env: [:], timeout: 60) }
        try mount()
        defer { unmount(); _ = try? DaemonHarness.runProcess("/bin/umount", ["-l", mnt], env: [:], timeout: 30) }

        // Files written through the mount are objects of the cluster: its own S3 server lists them.
        for i in 0..<10 { try Data("file \(i)\n".utf8).write(to: URL(fileURLWithPath: mnt + "/f\(i).txt")) }
        let listed = try cluster.run(on: 1, ["/usr/bin/env", "python3", "-c", """
            import boto3, json
            ident = json.load(open('\(cluster.identityFile)'))
            s3 = boto3.client('s3', endpoint_url='http://\(cluster.address(1)):8333', aws_access_key_id=ident['access_key_id'],
                              aws_secret_access_key=ident['secret_access_key'], region_name='us-east-1')
            print(sorted(o['Key'] for o in s3.list_objects_v2(Bucket='shared').get('Contents', [])))
            """])
        #expect(listed.stdout.contains("'f0.txt'") && listed.stdout.contains("'f9.txt'"), "\(listed.stdout) \(listed.stderr)")
        // Listings with metadata come from the cluster's filer, which signs: B's requests carry the
        // JWT (without it the gateway would fall back to a listing without <UserMetadata>).
        let withMetadata = try cluster.run(on: 4, ["/usr/bin/env", "python3", "-c", """
            import boto3
            s3 = boto3.client('s3', endpoint_url='https://\(cluster.address(3)):3900', aws_access_key_id='\(grant.accessKey)',
                              aws_secret_access_key='\(grant.secretKey)', region_name='us-east-1', verify='\(certsB.ca)')
            raw = {}
            def add(request, **kw): request.url += ('&' if '?' in request.url else '?') + 'metadata=true'
            def grab(http_response, **kw): raw['xml'] = http_response.content.decode()
            s3.meta.events.register('before-sign.s3.ListObjectsV2', add)
            s3.meta.events.register('after-call.s3.ListObjectsV2', grab)
            s3.list_objects_v2(Bucket='shared')
            print(raw['xml'].count('<UserMetadata>'))
            """])
        #expect(Int(withMetadata.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 >= 10, "\(withMetadata.stdout) \(withMetadata.stderr)")
        // repair runs SeaweedFS's own checks against the cluster (weed shell with its security.toml).
        let repaired = try h.run(["repair", "--json"], timeout: 300)
        #expect(repaired.status == 0 && repaired.stdout.contains("volume.fsck"), "\(repaired.stdout) \(repaired.stderr)")

        // A volume server dies while files are written: every file whose close succeeded is
        // read back whole, from the cluster (after a remount, with no local cache).
        let payload: @Sendable (Int) -> Data = { i in Data((0..<(256 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }) }
        let acknowledged = Mutex<[Int]>([])
        let writer = Thread {
            for i in 0..<60 {
                let fd = open(mnt + "/load\(i).bin", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                guard fd >= 0 else { continue }
                let data = payload(i)
                let wrote = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == data.count
                if close(fd) == 0 && wrote { acknowledged.withLock { $0.append(i) } }
            }
        }
        writer.start()
        #expect(eventually(timeout: 60) { acknowledged.withLock { $0.count } >= 10 })
        try cluster.kill("volume3")
        let beforeKill = acknowledged.withLock { $0.count }
        #expect(eventually(timeout: 300, every: 0.2) { writer.isFinished })
        let written = acknowledged.withLock { $0 }
        #expect(written.count > beforeKill + 10, "writes stopped when a volume server died: \(written.count) of 60 acknowledged, \(beforeKill) before")
        unmount()
        try mount()
        var lost = [Int]()
        for i in written where (try? Data(contentsOf: URL(fileURLWithPath: mnt + "/load\(i).bin"))) != payload(i) { lost.append(i) }
        #expect(lost.isEmpty, "acknowledged files lost or changed after a volume server died: \(lost)")
        #expect(try String(contentsOfFile: mnt + "/f3.txt", encoding: .utf8) == "file 3\n")

        // A revoke on A is enforced at B within 2 s.
        let probe = try h.mintGrant("shared", perms: "list", to: "probe")
        #expect(try poll(cluster, host: 3, ca: certsB.ca, grant: probe, until: "ok") != nil)
        let ready = cluster.dir + "/poll-ready"
        let refusedAt = Mutex<Double?>(nil)
        let poller = Thread { [self] in
            refusedAt.withLock { $0 = try? poll(cluster, host: 3, ca: certsB.ca, grant: probe, until: "AccessDenied", message: "revoked", ready: ready) }
        }
        poller.start()
        #expect(eventually(timeout: 30) { FileManager.default.fileExists(atPath: ready) })
        #expect(try h.run(["bucket", "revoke", probe.grantID]).status == 0)
        let revoked = Date().timeIntervalSince1970
        #expect(eventually(timeout: 60) { poller.isFinished })
        let refusal = refusedAt.withLock { $0 }
        #expect(refusal.map { $0 - revoked < 2 } == true, "a grant revoked on A was refused at B after \(refusal.map { $0 - revoked } ?? -1) s")

        // Daemon A dies: B goes on serving the mount and minting.
        kill(try h.daemonPID(), SIGKILL)
        try Data("after A died\n".utf8).write(to: URL(fileURLWithPath: mnt + "/after.txt"))
        #expect(try String(contentsOfFile: mnt + "/after.txt", encoding: .utf8) == "after A died\n")
        let fromB = try b.mintGrant("shared", perms: "list", to: "after")
        #expect(try poll(cluster, host: 3, ca: certsB.ca, grant: fromB, until: "ok") != nil)

        // B loses the cluster's S3 server (where the shared state is): after its 4 s bound, grant
        // requests are refused with 503 and the reason, and the log says so.
        unmount()
        try cluster.kill("s3")
        let cut = Date().timeIntervalSince1970
        let stale = try poll(cluster, host: 3, ca: certsB.ca, grant: fromB, until: "ServiceUnavailable", message: "shared grants", timeout: 40)
        #expect(stale.map { $0 - cut >= 2 && $0 - cut < 20 } == true, "refused for staleness after \(stale.map { $0 - cut } ?? -1) s")
        print(String(format: "cluster: a grant minted on A worked at B after %.2f s; revoked on A, refused at B after %.2f s; B without the cluster's S3 refused grants after %.1f s (bound 4 s)",
                     (works ?? .nan) - minted, (refusal ?? .nan) - revoked, (stale ?? .nan) - cut))
        #expect(eventually(timeout: 30, every: 0.2) { b.logText().contains("refusing grant-signed requests until the cluster answers") })
        // Probes see it: unhealthy (the engine's S3 server is down), and the status says how old
        // B's copy of the shared state is.
        #expect(try b.run(["healthz"]).status != 0)
        let age = (try b.status())["shared_state_age_seconds"] as? Double
        #expect(age.map { $0 >= 3 } == true, "shared_state_age_seconds \(age ?? -1)")

        #expect(try b.run(["stop"]).status == 0)
        cluster.down()
        #expect(cluster.namespacesLeft.isEmpty, "namespaces left behind: \(cluster.namespacesLeft)")
    }

    /// MANUAL's way from one daemon with the embedded engine to the cluster: `migrate-to-cluster`
    /// and a restart; the buckets, objects (bytes and metadata, one larger than a copy part) and
    /// the active grant are there afterwards, through the same daemon and the same grant.
    @Test(.timeLimit(.minutes(10))) func anEmbeddedDaemonMovesToTheClusterWithItsBucketsObjectsAndGrants() throws {
        let cluster = try NetnsCluster(hosts: 3)
        defer { cluster.down() }
        let h = try DaemonHarness(name: "mig")
        h.wrapper = cluster.on(2)
        defer { _ = try? h.run(["stop"]); h.cleanUp() }
        let started = try h.run(["start"])
        try #require(started.status == 0, "\(started.stderr)")
        try h.createBucket("keep", ttl: "7d", quota: "3G")
        let g = try h.mintGrant("keep")
        let objects = """
            import boto3, hashlib, json, sys
            s3 = boto3.client('s3', endpoint_url='\(h.gatewayURL)', aws_access_key_id='\(g.accessKey)',
                              aws_secret_access_key='\(g.secretKey)', region_name='us-east-1')
            names = {'small.txt': b'hello\\n', 'dir/': b'', 'with space/ünï.bin': bytes(range(256)) * 40,
                     'big.bin': bytes((i * 7) & 255 for i in range(70 << 20))}
            if sys.argv[1] == 'put':
                for k, v in names.items():
                    s3.put_object(Bucket='keep', Key=k, Body=v, Metadata={'mode': '100640', 'owner': k[:5]}, ContentType='application/x-test')
            out = {}
            for k in names:
                o = s3.get_object(Bucket='keep', Key=k)
                out[k] = [hashlib.md5(o['Body'].read()).hexdigest(), o['Metadata'], o['ContentType']]
            print(json.dumps(out, sort_keys=True))
            """
        let before = try cluster.run(on: 2, ["/usr/bin/env", "python3", "-c", objects, "put"], timeout: 300)
        try #require(before.status == 0, "\(before.stderr)")
        let config = try String(contentsOfFile: h.paths.configFile, encoding: .utf8)
        let a1 = cluster.address(1)
        let args = ["migrate-to-cluster", "--masters", "\(a1):9333", "--filer", "\(a1):8888", "--s3-endpoint", "http://\(a1):8333",
                    "--security-file", cluster.securityFile, "--identity-file", cluster.identityFile]

        // Bad input changes nothing: a missing identity file; the cluster's filer signs, and
        // without its security file the daemon could not start there.
        let bad = try h.run(Array(args.dropLast()) + [cluster.dir + "/missing.json"])
        #expect(bad.status != 0 && bad.stderr.contains("missing.json"), "\(bad.stderr)")
        let unsigned = try h.run(args.filter { $0 != "--security-file" && $0 != cluster.securityFile })
        #expect(unsigned.status != 0 && unsigned.stderr.contains("the cluster's filer \(a1):8888 does not answer"), "\(unsigned.stderr)")
        let dry = try h.run(args + ["--dry-run", "--json"])
        #expect(dry.status == 0, "\(dry.stderr)")
        let plan = try JSONSerialization.jsonObject(with: Data(dry.stdout.utf8)) as? [String: Any]
        #expect((plan?["buckets"] as? [[String: Any]])?.first?["objects"] as? Int == 4 && plan?["grants"] as? Int == 1, "\(dry.stdout)")
        #expect(try String(contentsOfFile: h.paths.configFile, encoding: .utf8) == config)

        let moved = try h.run(args, timeout: 600)
        #expect(moved.status == 0, "\(moved.stderr)")
        #expect(moved.stdout.contains("keep: 4 objects") && moved.stdout.contains(", 4 copied") && moved.stderr.isEmpty,
                "\(moved.stdout) \(moved.stderr)")
        #expect(try String(contentsOfFile: h.paths.configFile + ".embedded", encoding: .utf8) == config)
        let restarted = try h.run(["restart"])
        try #require(restarted.status == 0, "\(restarted.stderr)")
        #expect(((try h.status())["engine"] as? [String: Any])?["kind"] as? String == "seaweedfs-cluster")

        // The same grant reads the same bytes and metadata, now from the cluster.
        let after = try cluster.run(on: 2, ["/usr/bin/env", "python3", "-c", objects, "get"], timeout: 300)
        #expect(after.status == 0 && after.stdout == before.stdout, "\(after.stdout) \(after.stderr)")
        let info = try h.run(["bucket", "info", "keep", "--json"])
        #expect(info.stdout.contains("\"ttl\":\"7d\"") || info.stdout.contains("\"ttl\" : \"7d\""), "\(info.stdout)")
        let again = try h.run(args)
        #expect(again.status != 0 && again.stderr.contains("already runs on a cluster"), "\(again.stderr)")

        // The seeds' commands, on the cluster: the artifacts runbook's day 2 (a workspace with the
        // defaults, mounted, its keys set again, remounted, listed, shown, .stats, unmounted,
        // deleted) and the garagetytus runbook's bucket commands.
        let created = try h.run(["workspace", "create", "cases"])
        try #require(created.status == 0, "\(created.stderr)")
        let keys = try #require(try WorkspaceStore(configDir: h.paths.configDir).loadCredentials("cases"))
        let work = h.home + "/mnt/work"
        defer { _ = try? DaemonHarness.runProcess("/bin/umount", ["-l", work], env: [:], timeout: 30) }
        let bin = (DaemonHarness.locateBinary("artifacts") as NSString).deletingLastPathComponent
        let seeds = try cluster.run(on: 2, ["/usr/bin/env", "GARAGETYTUS_HOME=" + h.home, "PATH=\(bin):/usr/bin:/bin", "/bin/bash", "-c", """
            set -euo pipefail
            mkdir -p \(work)
            artifacts mount cases \(work)
            echo 'on the cluster' > \(work)/notes.txt
            artifacts storage set \\
                --access-key-id \(keys.accessKeyID) \\
                --secret-access-key \(keys.secretAccessKey)
            artifacts unmount \(work)
            artifacts mount cases \(work)
            cat \(work)/notes.txt
            artifacts workspace list
            artifacts --format json workspace list | jq .
            artifacts workspace show cases
            grep -E '^(juicefs_fuse_ops_io_total|juicefs_object_request_data_bytes_GET|juicefs_blockcache_hits)' \\
                \(work)/.stats
            artifacts unmount \(work)
            artifacts workspace delete cases --yes
            garagetytus bucket list
            garagetytus bucket deny-all keep --ttl 1h
            garagetytus bucket allow keep
            garagetytus bucket expire cases
            garagetytus bucket list --json
            """], timeout: 300)
        #expect(seeds.status == 0 && seeds.stdout.contains("on the cluster") && seeds.stdout.contains("juicefs_fuse_ops_io_total")
                && seeds.stdout.contains("\"id\": \"cases\""), "\(seeds.stdout)\n\(seeds.stderr)")
        let buckets = try h.run(["bucket", "list", "--json"])
        #expect(buckets.stdout.contains("\"keep\"") && !buckets.stdout.contains("\"cases\""), "\(buckets.stdout)")
        #expect(try h.run(["stop"]).status == 0)
    }
}
