import ArgumentParser
import Daemon
import Foundation
import S3
import Workspaces

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show whether the daemon runs, its mode, disk, engine and endpoints.",
        discussion: """
        Exits 0 when the daemon runs, 3 when it does not.

        Examples:
          garagetytus status
          garagetytus status --json | jq .mode
        """)

    @OptionGroup var output: JSONOption

    func run() async throws {
        try await CLIRunner.run {
            let paths = try CLIRunner.resolvePaths()
            let status = ControlClient(paths: paths).status() ?? stoppedStatus(paths)
            if output.json {
                CLIRunner.printJSON(status)
            } else {
                print(Self.render(status))
            }
            if !status.running { throw ExitCode(DaemonError(.notRunning, "").exitCode) }
        }
    }

    private func stoppedStatus(_ paths: Paths) -> DaemonStatus {
        let unclean = (try? UncleanCounter(path: paths.uncleanCounter).read()) ?? 0
        return .stopped(dataDir: paths.dataDir, uncleanShutdownTotal: unclean)
    }

    static func render(_ s: DaemonStatus) -> String {
        guard s.running else {
            return """
            garagetytus \(s.version): stopped
              unclean shutdowns: \(s.uncleanShutdownTotal)
              data:              \(s.dataDir)
              start it with:     garagetytus start
            """
        }
        var lines = ["garagetytus \(s.version): running (pid \(s.pidText)), up \(duration(s.uptimeSeconds ?? 0))\(s.ready ? "" : ", starting")"]
        let disk = s.diskFreePct.map { String(format: "%.1f %%", $0) } ?? "not measured yet"
        lines.append("  mode:              \(s.mode?.rawValue ?? "?") (disk free \(disk))")
        if let e = s.engine {
            var engine = "\(e.kind) \(e.state)"
            engine += " (pid \(e.pid.map(String.init) ?? "-"), restarts \(e.restarts))"
            if let err = e.lastError, e.state != "up" { engine += ": \(err)" }
            lines.append("  engine:            \(engine)")
            if let age = s.sharedStateAgeSeconds { lines.append("  shared state:      read \(String(format: "%.1f", age)) s ago (buckets and grants of the cluster)") }
        }
        if let ep = s.endpoints {
            lines.append("  metrics:           \(ep.metrics)")
            lines.append("  health:            \(ep.health)")
            lines.append("  control socket:    \(ep.controlSocket)")
        }
        lines.append("  unclean shutdowns: \(s.uncleanShutdownTotal)")
        if let r = s.lastRepair {
            lines.append("  last repair:       \(r.ok ? "ok" : "with warnings") (\(r.trigger), \(String(format: "%.2f", r.seconds)) s)")
        }
        lines.append("  data:              \(s.dataDir)")
        return lines.joined(separator: "\n")
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m \(s % 60)s" }
        if s < 86400 { return "\(s / 3600)h \(s % 3600 / 60)m" }
        return "\(s / 86400)d \(s % 86400 / 3600)h"
    }
}

struct Healthz: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Probe the daemon's /healthz; exit 0 when healthy, 1 otherwise (for health checks).",
        discussion: """
        Examples:
          garagetytus healthz
          HEALTHCHECK CMD garagetytus healthz     # in a Dockerfile
        """)

    @Option(help: "Seconds to wait for an answer.") var timeout: Double = 3

    func run() async throws {
        try await CLIRunner.run {
            try CLIRunner.requirePositive(timeout)
            let paths = try CLIRunner.resolvePaths()
            let config = try Bootstrap.loadConfig(paths: paths)
            let url = "http://\(config.metricsAddress):\(config.metricsPort)/healthz"
            do {
                let r = try CurlHTTP.perform(HTTPRequest(url: url, timeout: timeout))
                print(r.text.trimmingCharacters(in: .whitespacesAndNewlines))
                if r.status != 200 { throw ExitCode(1) }
            } catch let e as HTTPTransportError {
                print("unhealthy: no answer from \(url) (\(e.message))")
                throw ExitCode(1)
            }
        }
    }
}

struct RepairCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Run the state DB integrity check and the engine's consistency check now.",
        discussion: """
        The same repair runs by itself in the background after an unclean shutdown.

        Examples:
          garagetytus repair
          garagetytus repair --json
        """)

    @OptionGroup var output: JSONOption

    func run() async throws {
        try await CLIRunner.run {
            let paths = try CLIRunner.resolvePaths()
            let line = ProgressLine()
            let report: RepairReport
            do {
                defer { line.finish() }
                report = try ControlClient(paths: paths).jsonWithProgress("POST", "/v1/repair", as: RepairReport.self) { line.update($0) }
            }
            if output.json {
                CLIRunner.printJSON(report)
            } else {
                for s in report.steps { print("\(s.ok ? "ok  " : "FAIL") \(s.name): \(s.detail)") }
                print("repair \(report.ok ? "finished" : "finished with warnings") in \(String(format: "%.2f", report.seconds)) s")
            }
            if !report.ok { throw ExitCode(1) }
        }
    }
}

struct BootstrapCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bootstrap",
        abstract: "Create the directories, garagetytus.toml and the engine identity (idempotent).",
        discussion: """
        `start` and `serve` do this by themselves on first use. GARAGETYTUS_HOME=DIR puts everything under DIR.

        Examples:
          garagetytus bootstrap
          GARAGETYTUS_HOME=/tmp/gt garagetytus bootstrap --json
        """)

    @OptionGroup var output: JSONOption

    func run() async throws {
        try await CLIRunner.run {
            let report = try Bootstrap.run(paths: try CLIRunner.resolvePaths())
            if output.json {
                CLIRunner.printJSON(report)
            } else {
                print(report.created.isEmpty ? "already bootstrapped" : "bootstrapped")
                print("  config: \(report.configFile)\n  data:   \(report.dataDir)\n  logs:   \(report.logDir)")
                for c in report.created { print("  created \(c)") }
            }
        }
    }
}
