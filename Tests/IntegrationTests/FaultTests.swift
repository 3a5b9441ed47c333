import Daemon
import Foundation
import S3
import Synchronization
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Processes killed with SIGKILL under load: nothing acknowledged is lost, nothing is torn, and
/// everything comes back without a remount. Data are checked by content hash.
@Suite struct FaultTests {
    static let gatewaySizes = [4 << 10, 300 << 10, 3 << 20, 12 << 20]
    static let mountSizes = [4 << 10, 1 << 20, 9 << 20]

    /// Gateway PUT writers and mount writers on their own ledgers; the mount's writes record the
    /// longest time one write took (it must stay bounded while the daemon is down).
    final class Load: Sendable {
        let viaGateway = WriteLedger()
        let viaMount = WriteLedger()
        let longestMountWrite = Longest()
        let workers: Workers

        init(client: S3Client, bucket: String, mountpoint: String) {
            let gw = viaGateway, mt = viaMount, longest = longestMountWrite
            workers = Workers(count: 5) { w, i in
                if w < 3 {
                    let key = "gw/\(w)-\(i)"
                    let data = randomData(Self.size(FaultTests.gatewaySizes, w, i))
                    gw.attempt(key, data)
                    do { _ = try client.put(bucket: bucket, key: key, body: data); gw.ack(key) } catch { gw.fail(); usleep(20_000) }
                } else {
                    let key = "mt/\(w)-\(i)"
                    let data = randomData(Self.size(FaultTests.mountSizes, w, i))
                    mt.attempt(key, data)
                    let started = Date()
                    if posixWrite(mountpoint + "/" + key, data) == 0 { mt.ack(key) } else { mt.fail(); usleep(20_000) }
                    let took = Date().timeIntervalSince(started)
                    longest.note(took)
                }
            }
        }

        static func size(_ sizes: [Int], _ w: Int, _ i: Int) -> Int { sizes[(w + i) % sizes.count] }

        /// Waits (bounded) until both sides have `n` more acknowledged writes than now.
        func progress(_ n: Int, timeout: Double) -> Bool {
            let (g0, m0) = (viaGateway.acked, viaMount.acked)
            return eventually(timeout: timeout, every: 0.2) { viaGateway.acked >= g0 + n && viaMount.acked >= m0 + n }
        }
    }

    static func startWithLoad(_ h: DaemonHarness, retry: RetryPolicy) throws -> (Load, String, S3Client) {
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("load", quota: "4G")
        let g = try h.mintGrant("load")
        let (mnt, _) = try h.mountWithGrant(g, bucket: "load")
        try FileManager.default.createDirectory(atPath: mnt + "/mt", withIntermediateDirectories: true)
        let load = Load(client: h.gatewayClient(g, retry: retry), bucket: "load", mountpoint: mnt)
        return (load, mnt, h.gatewayClient(g))
    }

    /// Every attempted write read back: the problems found, which the caller prints as figures.
    @discardableResult
    static func check(_ load: Load, _ reader: S3Client, _ h: DaemonHarness) throws -> [String] {
        let engine = try h.engineClient()
        let read: (String) throws -> Data? = { key in
            do { return try reader.get(bucket: "load", key: key) } catch let e as S3Error where e.kind == .notFound { return nil }
        }
        let (gateway, mount) = (try load.viaGateway.verify(read), try load.viaMount.verify(read))
        #expect(gateway.isEmpty, "through the gateway: \(gateway)\n\(explain(gateway, engine, h))")
        #expect(mount.isEmpty, "through the mount: \(mount)\n\(explain(mount, engine, h))")
        return gateway + mount
    }

    /// For a failure report: what the gateway's HEAD and the engine itself say about each key
    /// found wrong, so a torn object in the store tells apart from a read cut short.
    static func explain(_ problems: [String], _ engine: S3Client, _ h: DaemonHarness) -> String {
        let audit = (try? String(contentsOfFile: h.paths.auditLog, encoding: .utf8)) ?? ""
        let logs = (h.mountLogs() + "\n" + h.logText() + "\n" + audit).split(separator: "\n")
        return problems.compactMap { $0.split(separator: ":").first.map(String.init) }.map { key in
            let head = (try? engine.head(bucket: "load", key: key)).map { "\($0.size) bytes, etag \($0.etag ?? "-")" } ?? "HEAD failed"
            let body = (try? engine.get(bucket: "load", key: key)).map { "\($0.count) bytes" } ?? "GET failed"
            let lines = logs.filter { $0.contains(key) }.suffix(30).joined(separator: "\n  ")
            return "\(key) at the engine: HEAD \(head); GET \(body); logs:\n  \(lines)"
        }.joined(separator: "\n")
    }

    @Test func killingTheDaemonUnderGatewayAndMountWritesLosesNothingAcknowledged() throws {
        let h = try DaemonHarness(name: "fdk")
        defer { _ = try? h.run(["stop"]) }
        let (load, mnt, reader) = try Self.startWithLoad(h, retry: .none)
        defer { h.forceUnmount(mnt) }
        let mountPID = try #require(h.mountPID(mnt))
        #expect(load.progress(8, timeout: 120))

        let failedBefore = (load.viaGateway.failed, load.viaMount.failed)
        kill(try h.daemonPID(), SIGKILL)
        // While it is down, writes fail (never hang): both sides see failures.
        #expect(eventually(timeout: 60, every: 0.2) {
            load.viaGateway.failed > failedBefore.0 && load.viaMount.failed > failedBefore.1
        })
        let start = try h.run(["start"])
        #expect(start.status == 0, "\(start.stderr)")
        // The same mount process carries on: no remount.
        #expect(load.progress(5, timeout: 120))
        #expect(load.workers.finish(timeout: 120))
        #expect(h.mountPID(mnt) == mountPID)
        // Failed, never hung: each request gives up within its 60 s retry budget (a write is at
        // most a PUT and a HEAD; the rest is room for a loaded machine).
        #expect(load.longestMountWrite.value < 150, "longest mount write \(load.longestMountWrite.value) s")

        let problems = try Self.check(load, reader, h)
        #expect(h.metric("garagetytus_unclean_shutdown_total") == 1)
        #expect(try UncleanCounter(path: h.paths.uncleanCounter).read() == 1)
        // What the mount wrote is also what it reads back.
        let sample = try #require(try FileManager.default.contentsOfDirectory(atPath: mnt + "/mt").first)
        #expect(try reader.get(bucket: "load", key: "mt/" + sample) == Data(contentsOf: URL(fileURLWithPath: mnt + "/mt/" + sample)))
        Self.record("daemon kill -9", load, problems)
    }

    @Test func killingTheEngineUnderLoadIsSurvivedByRetries() throws {
        let h = try DaemonHarness(name: "fek")
        defer { _ = try? h.run(["stop"]) }
        let (load, mnt, reader) = try Self.startWithLoad(h, retry: RetryPolicy(maxAttempts: 8, baseDelay: 0.2, maxDelay: 2, budget: 30))
        defer { h.forceUnmount(mnt) }
        #expect(load.progress(8, timeout: 120))
        let enginePID = try h.enginePID()
        kill(enginePID, SIGKILL)
        #expect(eventually(timeout: 20, every: 0.2) { (try? h.enginePID()).map { $0 != enginePID } ?? false })
        #expect(load.progress(5, timeout: 120))
        #expect(load.workers.finish(timeout: 120))
        let problems = try Self.check(load, reader, h)
        #expect(h.metric("garagetytus_engine_restarts_total") == 1)
        // Retried until they succeeded: no write failed, through the gateway or the mount.
        #expect(load.viaGateway.failed == 0 && load.viaMount.failed == 0,
                "\(load.viaGateway.failed) gateway PUTs and \(load.viaMount.failed) mount writes failed")
        Self.record("engine kill -9", load, problems)
    }

    @Test func aKilledMountIsRecoveredByMountOrUnmountAndItsStagingIsCleanedUp() throws {
        let h = try DaemonHarness(name: "fmk")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("files")
        let g = try h.mintGrant("files")
        let (mnt, credentials) = try h.mountWithGrant(g, bucket: "files")
        defer { h.forceUnmount(mnt) }
        let closed = randomData(5 << 20)
        #expect(posixWrite(mnt + "/closed.bin", closed) == 0)
        let cache = h.paths.dataDir + "/cache"
        let staged = { (try? FileManager.default.subpathsOfDirectory(atPath: cache))?.filter { $0.contains("gt-stage-") } ?? [] }
        // close(2) returns once flush has uploaded; the kernel sends the release that drops the
        // staging file afterwards, without waiting for it.
        #expect(eventually(timeout: 10, every: 0.05) { staged().isEmpty }, "\(staged())")
        // A file still open at the kill, with data in its staging file.
        let fd = open(mnt + "/open.bin", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        #expect(fd >= 0)
        let chunk = randomData(2 << 20)
        #expect(chunk.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) } == chunk.count)
        #expect(!staged().isEmpty)

        kill(try #require(h.mountPID(mnt)), SIGKILL)
        close(fd)
        #expect(eventually(timeout: 10) { var st = stat(); return stat(mnt, &st) != 0 && errno == ENOTCONN })

        // `mount` again on the dead mountpoint: recovered, closed data there, the open file not.
        let again = try h.run(["mount", "--endpoint", h.gatewayURL, "--bucket", "files", "--credentials-file", credentials, mnt])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("recovered a stale mount"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: mnt + "/closed.bin")) == closed)
        #expect(!FileManager.default.fileExists(atPath: mnt + "/open.bin"))
        #expect(staged().isEmpty, "\(staged())")
        let log = h.mountLogs()
        #expect(log.contains("removed 1 staging file(s) (\(2 << 20) bytes) left by a mount process that was killed"), "\(log)")

        // Killed again: `unmount` alone also recovers the mountpoint.
        kill(try #require(h.mountPID(mnt)), SIGKILL)
        #expect(eventually(timeout: 10) { var st = stat(); return stat(mnt, &st) != 0 })
        let un = try h.run(["unmount", mnt])
        #expect(un.status == 0, "\(un.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: mnt) == [])
    }

    final class Longest: Sendable {
        private let m = Mutex<Double>(0)
        func note(_ t: Double) { m.withLock { $0 = max($0, t) } }
        var value: Double { m.withLock { $0 } }
    }

    /// The figures RELIABILITY.md quotes, from what was counted and read back.
    static func record(_ scenario: String, _ load: Load, _ problems: [String]) {
        let g = load.viaGateway, m = load.viaMount
        let (lost, torn) = WriteLedger.tally(problems)
        print("reliability: \(scenario): gateway \(g.acked) acknowledged PUTs (\(g.ackedBytes >> 20) MiB), \(g.failed) failed; " +
              "mount \(m.acked) acknowledged writes (\(m.ackedBytes >> 20) MiB), \(m.failed) failed; lost \(lost), torn \(torn)")
    }
}
