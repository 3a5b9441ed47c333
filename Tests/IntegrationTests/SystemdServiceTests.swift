import Daemon
import Foundation
import S3
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `garagetytus service` and `serve` under systemd: the unit systemd-analyze accepts, the
/// sd_notify messages a `Type=notify` unit needs, and refusals where systemd does not run.
@Suite(.serialized, .timeLimit(.minutes(3))) struct SystemdServiceTests {
    /// A datagram socket bound at `path`, as systemd's $NOTIFY_SOCKET is.
    final class NotifySocket {
        let fd: Int32
        init(path: String) throws {
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard fd >= 0, bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw HarnessError("no socket at \(path)") }
            // SAFETY: the path's bytes fit in sun_path (checked), which stays NUL-terminated.
            withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes) }
            let rc = withUnsafePointer(to: &addr) {
                // SAFETY: sockaddr_un is a sockaddr for bind(2), of the size given.
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard rc == 0 else { throw HarnessError("bind \(path): \(String(cString: strerror(errno)))") }
        }
        deinit { close(fd) }

        /// The next message, or nil after `timeout` seconds.
        func next(timeout: Double) -> String? {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, Int32(timeout * 1000)) == 1 else { return nil }
            var buf = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &buf, buf.count, 0)
            return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : nil
        }
    }

    /// Whether the gateway answers an S3 request (any HTTP answer: these credentials are unknown).
    func gatewayAnswers(_ h: DaemonHarness) -> Bool {
        let c = S3Client(endpoint: URL(string: h.gatewayURL)!, region: h.config.region, retry: .none, timeout: 5) {
            S3Credentials(accessKeyID: "GKnobody0000", secretAccessKey: "nothing")
        }
        do { _ = try c.list(bucket: "nothing"); return true } catch let e as S3Error { return e.kind != .transport } catch { return false }
    }

    @Test func serveSaysReadyOnlyWhenTheGatewayAnswersThenAliveAtEachTickAndStopping() throws {
        let h = try DaemonHarness(name: "sdn")  // watchdog ticks every 0.5 s
        let sock = try NotifySocket(path: h.home + "/notify")
        var env = ProcessInfo.processInfo.environment
        env["GARAGETYTUS_HOME"] = h.home
        env["NOTIFY_SOCKET"] = h.home + "/notify"
        env["WATCHDOG_USEC"] = "10000000"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: h.binary)
        p.arguments = ["serve", "--no-log-stderr"]
        p.environment = env
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }

        var beforeReady: [String] = []
        var ready: String?
        let deadline = Date().addingTimeInterval(60)
        while ready == nil, Date() < deadline, let m = sock.next(timeout: 60) {
            if m.contains("READY=1") { ready = m } else { beforeReady.append(m) }
        }
        let readyMessage = try #require(ready, "no READY=1 within 60 s; log: \(h.logText().suffix(1500))")
        #expect(gatewayAnswers(h), "READY=1 came before the gateway answered")
        #expect(readyMessage.contains("STATUS=serving S3 on http://127.0.0.1:\(h.config.gatewayPort)"))
        #expect(beforeReady.allSatisfy { $0 == "WATCHDOG=1" }, "\(beforeReady)")

        // A sign of life at every watchdog tick.
        var alive = 0
        let until = Date().addingTimeInterval(10)
        while alive < 3, Date() < until, let m = sock.next(timeout: 5) { if m == "WATCHDOG=1" { alive += 1 } }
        #expect(alive == 3)

        // SIGTERM (systemd's stop): STOPPING=1, then a clean exit.
        kill(p.processIdentifier, SIGTERM)
        var stopping = false
        while !stopping, let m = sock.next(timeout: 30) { stopping = m.contains("STOPPING=1") }
        #expect(stopping)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
    }

    /// The unit for either manager, with a home whose path needs quoting, passes systemd-analyze.
    @Test func theGeneratedUnitPassesSystemdAnalyzeVerify() throws {
        let h = try DaemonHarness(name: "sdu")
        let odd = h.home + "/a home %n $x"
        try FileManager.default.createDirectory(atPath: odd + "/config", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: h.paths.configFile, toPath: odd + "/config/garagetytus.toml")
        for scope in ["--user", "--system"] {
            let r = try h.run(["service", "install", scope, "--dry-run", "--json"], env: ["GARAGETYTUS_HOME": odd, "HOME": h.home])
            #expect(r.status == 0, "\(r.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: String])
            let unit = try #require(json["unit"])
            #expect(unit.contains("Type=notify") && unit.contains("WatchdogSec=30") && unit.contains("Restart=on-failure"))
            #expect(unit.contains("ExecStart=\"\(h.binary)\" serve"))
            #expect(unit.contains("Environment=\"GARAGETYTUS_HOME=\(h.home)/a home %%n $$x\""))
            #expect(json["unit_path"] == (scope == "--user" ? h.home + "/.config/systemd/user/garagetytus.service" : "/etc/systemd/system/garagetytus.service"))
            let dir = h.home + "/verify" + scope
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try unit.write(toFile: dir + "/garagetytus.service", atomically: true, encoding: .utf8)
            let v = try DaemonHarness.runProcess("/usr/bin/systemd-analyze", ["verify", dir + "/garagetytus.service"], env: ["PATH": "/usr/bin:/bin", "SYSTEMD_LOG_LEVEL": "warning"], timeout: 60)
            let complaints = (v.stdout + v.stderr).split(separator: "\n").filter { $0.contains("garagetytus.service") }
            #expect(v.status == 0 && complaints.isEmpty, "\(scope): \(v.stdout) \(v.stderr)")
        }
        // Nothing was written by the dry runs.
        #expect(!FileManager.default.fileExists(atPath: h.home + "/.config/systemd"))
    }

    /// Where systemd does not run (this container): install and uninstall refuse in one line and
    /// change nothing; status says so; an uninstall with nothing installed is a success.
    @Test func withoutSystemdInstallRefusesAndNothingChanges() throws {
        guard !FileManager.default.fileExists(atPath: "/run/systemd/system") else {
            Issue.record("systemd runs on this host: the refusal is checked by SystemdUnitTests with a fake systemctl only")
            return
        }
        let h = try DaemonHarness(name: "sdx")
        let env = ["HOME": h.home, "XDG_CONFIG_HOME": ""]
        let unitPath = h.home + "/.config/systemd/user/garagetytus.service"
        let install = try h.run(["service", "install"], env: env)
        #expect(install.status != 0 && install.stderr.contains("systemd is not running") && install.stderr.split(separator: "\n").count == 1, "\(install.stderr)")
        #expect(!FileManager.default.fileExists(atPath: unitPath))
        let none = try h.run(["service", "uninstall"], env: env)
        #expect(none.status == 0 && none.stdout.contains("not installed"), "\(none.stdout + none.stderr)")
        try FileManager.default.createDirectory(atPath: (unitPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try "[Unit]\n".write(toFile: unitPath, atomically: true, encoding: .utf8)
        let refused = try h.run(["service", "uninstall"], env: env)
        #expect(refused.status != 0 && refused.stderr.contains("systemd is not running"))
        #expect(FileManager.default.fileExists(atPath: unitPath))
        let st = try h.run(["service", "status", "--json"], env: env)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(st.stdout.utf8)) as? [String: Any])
        #expect(json["installed"] as? Bool == true && json["systemd"] as? Bool == false && json["unit_path"] as? String == unitPath)
        let both = try h.run(["service", "status", "--user", "--system"], env: env)
        #expect(both.status != 0 && both.stderr.contains("exclude each other"))
    }
}
