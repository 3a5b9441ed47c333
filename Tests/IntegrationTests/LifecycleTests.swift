import Daemon
import Foundation
import S3
import Testing
import TestSupport

/// The daemon's lifecycle against the real `weed` engine, each test with its own home and ports.
@Suite(.serialized) struct LifecycleTests {
    @Test func startServesTheFiveSeedMetricsAndStops() throws {
        let h = try DaemonHarness(name: "life")
        let start = try h.run(["start"])
        #expect(start.status == 0, "\(start.stderr)")
        #expect(start.stdout.contains("garagetytus started (pid "))

        let text = try #require(h.metrics())
        for name in ["garagetytus_disk_free_pct", "garagetytus_uptime_seconds", "garagetytus_unclean_shutdown_total",
                     "garagetytus_watchdog_last_tick_unix_seconds", "garagetytus_engine_restarts_total", "garagetytus_engine_up"] {
            #expect(text.contains("\n\(name) "), "missing \(name)")
        }
        // Exactly one mode series, with value 1.
        let modeLines = text.split(separator: "\n").filter { $0.hasPrefix("garagetytus_mode{") }
        #expect(modeLines == ["garagetytus_mode{mode=\"rw\"} 1.0"])
        let tick = try #require(h.metric("garagetytus_watchdog_last_tick_unix_seconds"))
        #expect(abs(tick - Date().timeIntervalSince1970) < 30)
        #expect(h.get("/healthz")?.text == "ok\n")
        #expect(h.get("/readyz")?.status == 200)

        let status = try h.status()
        #expect(status["running"] as? Bool == true)
        #expect(status["mode"] as? String == "rw")
        #expect((status["engine"] as? [String: Any])?["state"] as? String == "up")
        #expect(status["unclean_shutdown_total"] as? Int == 0)
        #expect(status["version"] as? String == Version.current)

        // The engine has no port on the host, and its socket refuses anonymous S3 requests.
        #expect(throws: (any Error).self) { try CurlHTTP.perform(HTTPRequest(url: "http://127.0.0.1:\(h.config.engine.s3Port)/", timeout: 5)) }
        let anonymous = try CurlHTTP.perform(HTTPRequest(url: "http://127.0.0.1:\(h.config.engine.s3Port)/", unixSocket: h.engineSocket, timeout: 5))
        #expect(anonymous.status == 403)
        // Secrets and the control socket are for this user only.
        for file in [h.paths.controlSocket, h.paths.identityFile, h.paths.engineConfigFile] {
            let mode = try #require(try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int)
            #expect(mode & 0o077 == 0, "\(file) has mode \(String(mode, radix: 8))")
        }
        // watchdog.json is there and parses.
        let wd = try JSONDecoder().decode(WatchdogRecord.self, from: Data(contentsOf: URL(fileURLWithPath: h.paths.watchdogFile)))
        #expect(wd.mode == .rw)

        let stop = try h.run(["stop"])
        #expect(stop.status == 0, "\(stop.stderr)")
        #expect(h.metrics() == nil)
        #expect(!FileManager.default.fileExists(atPath: h.paths.sentinel))
        #expect(try h.run(["status"]).status == 3)
    }

    @Test func startAndStopAreIdempotentAndRestartWorks() throws {
        let h = try DaemonHarness(name: "idem")
        #expect(try h.run(["stop"]).stdout.contains("not running"))
        #expect(try h.run(["start"]).status == 0)
        let pid = try h.status()["pid"] as? Int
        let again = try h.run(["start", "--json"])
        #expect(again.status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any]
        #expect(json?["action"] as? String == "already_running")
        #expect(try h.status()["pid"] as? Int == pid)

        let restart = try h.run(["restart"])
        #expect(restart.status == 0, "\(restart.stderr)")
        let newPID = try h.status()["pid"] as? Int
        #expect(newPID != nil && newPID != pid)

        #expect(try h.run(["stop"]).status == 0)
        let stopAgain = try h.run(["stop", "--json"])
        #expect(stopAgain.status == 0)
        #expect(stopAgain.stdout.contains("already_stopped"))
        // Clean stops and starts never count as unclean.
        #expect(try UncleanCounter(path: h.paths.uncleanCounter).read() == 0)
    }

    @Test func killingTheDaemonCountsOneUncleanShutdownAndRepairs() throws {
        let h = try DaemonHarness(name: "kill")
        #expect(try h.run(["start"]).status == 0)
        let status = try h.status()
        let daemonPID = try #require(status["pid"] as? Int)
        let enginePID = try #require((status["engine"] as? [String: Any])?["pid"] as? Int)
        kill(Int32(daemonPID), SIGKILL)
        // The engine must not outlive its daemon.
        #expect(eventually(timeout: 5) { !Sentinel.processIsAlive(Int32(enginePID)) })

        let start = try h.run(["start"])
        #expect(start.status == 0, "\(start.stderr)")
        #expect(h.metric("garagetytus_unclean_shutdown_total") == 1)
        #expect(try String(contentsOfFile: h.paths.uncleanCounter, encoding: .utf8) == "1\n")
        // Repair runs in the background; its lines are what the seed's grep looks for.
        #expect(eventually(timeout: 20) { h.logText().contains("repair tables: finished") })
        let lines = h.logText().split(separator: "\n").filter { $0.range(of: "(unclean|repair tables)", options: .regularExpression) != nil }
        #expect(lines.contains { $0.contains("unclean shutdown detected") })
        #expect(lines.contains { $0.contains("repair tables: state db integrity_check: ok") })
        #expect(lines.contains { $0.contains("repair tables: engine fs.verify: verified") })
        #expect(lines.contains { $0.contains("repair tables: finished") && $0.contains("all checks passed") }, "\(lines)")
        // On demand, the same repair reports what it did.
        let repair = try h.run(["repair", "--json"])
        #expect(repair.status == 0, "\(repair.stdout) \(repair.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(repair.stdout.utf8)) as? [String: Any]
        #expect(report?["ok"] as? Bool == true)
        #expect((report?["steps"] as? [Any])?.count == 3)

        // A clean restart does not count again.
        #expect(try h.run(["restart"]).status == 0)
        #expect(h.metric("garagetytus_unclean_shutdown_total") == 1)
        #expect(try h.run(["stop"]).status == 0)
    }

    @Test func killedEngineIsRestartedAndHealthRecovers() throws {
        let h = try DaemonHarness(name: "weed")
        #expect(try h.run(["start"]).status == 0)
        let enginePID = try #require((try h.status()["engine"] as? [String: Any])?["pid"] as? Int)
        // An engine that does not answer (held with SIGSTOP, so the window lasts as long as the
        // test needs, however loaded the machine): /healthz says 503 and names it.
        kill(Int32(enginePID), SIGSTOP)
        #expect(eventually(timeout: 30) { h.get("/healthz")?.status == 503 })
        #expect(h.get("/healthz")?.text.contains("engine") == true)
        kill(Int32(enginePID), SIGKILL)
        // Killed: restarted, and healthy again.
        #expect(eventually(timeout: 60) { h.metric("garagetytus_engine_restarts_total") == 1 && h.get("/healthz")?.status == 200 })
        let engine = try #require(try h.status()["engine"] as? [String: Any])
        #expect(engine["restarts"] as? Int == 1)
        #expect(engine["pid"] as? Int != enginePID)
        #expect(try h.run(["healthz"]).status == 0)
        #expect(try h.run(["stop"]).status == 0)
    }
}

@Suite(.serialized) struct ConcurrentStartTests {
    @Test func twoConcurrentStartsBothSucceedWithOneDaemon() throws {
        let h = try DaemonHarness(name: "race")
        let results = ThreadSafeResults()
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            results.append(try? h.run(["start", "--json"]))
        }
        let all = results.values
        #expect(all.count == 2)
        #expect(all.allSatisfy { $0?.status == 0 }, "\(all.map { $0?.stderr ?? "nil" })")
        let pids = Set(all.compactMap { r -> Int? in
            guard let r, let j = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] else { return nil }
            return (j["status"] as? [String: Any])?["pid"] as? Int
        })
        #expect(pids.count == 1)
        #expect(try h.run(["stop"]).status == 0)
    }
}

final class ThreadSafeResults: @unchecked Sendable {
    // SAFETY: every access goes through `lock`.
    private let lock = NSLock()
    private var items: [DaemonHarness.Result?] = []
    func append(_ r: DaemonHarness.Result?) { lock.withLock { items.append(r) } }
    var values: [DaemonHarness.Result?] { lock.withLock { items } }
}
