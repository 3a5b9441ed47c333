import Daemon
import Foundation
import Synchronization
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The daemon on an existing SeaweedFS cluster (`[engine] kind = "cluster"`), across hosts made of
/// network namespaces (TestSupport.NetnsCluster): the cluster's master, filer and S3 server on
/// host 1, a volume server on each of hosts 2–4, the daemon on host 2, a mount on host 4.
/// Six engine processes, a daemon and a mount under write load: run alone by scripts/test.sh after
/// the parallel suite (GT_HEAVY=1), whose timing-sensitive tests it would starve.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["GT_HEAVY"] != nil, "heavy: run alone by scripts/test.sh"),
       .enabled(if: NetnsCluster.unavailable == nil, "\(NetnsCluster.unavailable ?? "")"))
struct ClusterTests {
    /// A daemon configured for the cluster; `start` runs it on host `host`.
    /// Its gateway serves the other hosts over HTTPS with a certificate `certs` signed for its address.
    func daemon(on cluster: NetnsCluster, host: Int, certs: TestCertificates, filer: String? = nil) throws -> DaemonHarness {
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
        }
        h.wrapper = cluster.on(host)
        return h
    }

    @Test(.timeLimit(.minutes(10))) func aDaemonOnAClusterServesAMountOnAnotherHostAndLosesNothingWhenAVolumeServerDies() throws {
        let cluster = try NetnsCluster(hosts: 4)
        defer { cluster.down() }
        let certs = try TestCertificates(in: cluster.dir, ip: cluster.address(2))

        // A filer that does not answer is named as such, and nothing starts.
        let wrong = try daemon(on: cluster, host: 2, certs: certs, filer: "\(cluster.address(1)):8889")
        let refused = try wrong.run(["start"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("the cluster's filer \(cluster.address(1)):8889 does not answer"), "\(refused.stderr)")
        wrong.cleanUp()

        let h = try daemon(on: cluster, host: 2, certs: certs)
        defer { _ = try? h.run(["stop"]); h.cleanUp() }
        let started = try h.run(["start"])
        try #require(started.status == 0, "\(started.stderr)")
        let status = try h.status()
        #expect((status["engine"] as? [String: Any])?["kind"] as? String == "seaweedfs-cluster")
        try h.createBucket("shared", quota: "2G")
        let grant = try h.mintGrant("shared")
        let creds = h.home + "/grant.json"
        try JSONEncoder().encode(grant).write(to: URL(fileURLWithPath: creds))
        chmod(creds, 0o600)

        // The mount runs on host 4 and reaches the daemon's gateway on host 2 over the bridge, by
        // HTTPS (plain HTTP is for loopback only).
        let mnt = h.home + "/mnt"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        func mount() throws {
            let r = try cluster.run(on: 4, ["/usr/bin/env", "GARAGETYTUS_HOME=" + h.home, h.binary, "mount", "--endpoint", "https://\(cluster.address(2)):3900", "--bucket", "shared",
                                            "--credentials-file", creds, "--ca-file", certs.ca, "--no-data-cache", mnt])
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

        unmount()
        #expect(try h.run(["stop"]).status == 0)
        cluster.down()
        #expect(cluster.namespacesLeft.isEmpty, "namespaces left behind: \(cluster.namespacesLeft)")
    }
}
