import ArgumentParser
import Daemon
import Foundation
import Logging
import Workspaces

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon in the foreground (for containers and systemd).",
        discussion: """
        Starts and supervises the SeaweedFS engine, serves metrics and health, runs the watchdog, and stops everything gracefully on SIGTERM or SIGINT. Logs go to stderr and to <data>/logs/garagetytus.log.

        Examples:
          garagetytus serve
          GARAGETYTUS_HOME=/srv/gt garagetytus serve
        """)

    @Flag(name: .customLong("log-stderr"), inversion: .prefixedNo, help: "Also write log lines to stderr.")
    var logStderr = true

    func run() async throws {
        try await CLIRunner.run {
            let paths = try CLIRunner.resolvePaths()
            try Bootstrap.run(paths: paths)
            let sink = FileLogHandler.Sink(path: paths.logFile, alsoStderr: logStderr)
            let level = Logger.Level(rawValue: ProcessInfo.processInfo.environment["GARAGETYTUS_LOG_LEVEL"] ?? "info") ?? .info
            LoggingSystem.bootstrap { label in
                var h = FileLogHandler(label: label, sink: sink)
                h.logLevel = level
                return h
            }
            let logger = Logger(label: "garagetytus")
            do {
                try await Daemon.serve(paths: paths, logger: logger, workspaces: WorkspaceStore(configDir: paths.configDir),
                                       hostMounts: { HostMounts.current(paths) })
            } catch let e as DaemonError {
                logger.error("\(e.description)")
                throw e
            }
        }
    }
}

struct Start: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start the daemon in the background; returns when it is ready.",
        discussion: """
        Idempotent: if the daemon already runs, prints so and succeeds. On failure exits non-zero with the reason and the last log lines.

        Examples:
          garagetytus start
          garagetytus start --json
        """)

    @OptionGroup var output: JSONOption
    @Option(help: "Seconds to wait for readiness.") var timeout: Double = 60

    func run() async throws {
        try await CLIRunner.run {
            try CLIRunner.requirePositive(timeout)
            let paths = try CLIRunner.bootstrappedPaths()
            switch try DaemonLauncher(paths: paths).start(timeout: timeout) {
            case let .alreadyRunning(s):
                report(s, action: "already_running", seconds: nil, text: "garagetytus is already running (pid \(s.pidText))")
            case let .started(s, seconds):
                report(s, action: "started", seconds: seconds,
                       text: "garagetytus started (pid \(s.pidText)) in \(String(format: "%.2f", seconds)) s")
            }
        }
    }

    private func report(_ s: DaemonStatus, action: String, seconds: Double?, text: String) {
        if output.json {
            CLIRunner.printJSON(LifecycleResult(action: action, seconds: seconds, status: s))
        } else {
            print(text)
            if let e = s.endpoints { print("  metrics: \(e.metrics)\n  health:  \(e.health)") }
        }
    }
}

struct Stop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop the daemon gracefully and wait until it has stopped.",
        discussion: """
        Idempotent: if the daemon is not running, prints so and succeeds.

        Examples:
          garagetytus stop
          garagetytus stop --json
        """)

    @OptionGroup var output: JSONOption
    @Option(help: "Seconds to wait for the daemon to exit.") var timeout: Double = 30

    func run() async throws {
        try await CLIRunner.run {
            try CLIRunner.requirePositive(timeout)
            let paths = try CLIRunner.resolvePaths()
            let began = Date()
            let pid = try DaemonLauncher(paths: paths).stop(timeout: timeout)
            let seconds = Date().timeIntervalSince(began)
            if output.json {
                CLIRunner.printJSON(StopResult(action: pid == nil ? "already_stopped" : "stopped", pid: pid, seconds: seconds))
            } else if let pid {
                print("garagetytus stopped (pid \(pid)) in \(String(format: "%.2f", seconds)) s")
            } else {
                print("garagetytus is not running")
            }
        }
    }
}

struct Restart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop the daemon (if running), then start it.",
        discussion: """
        Examples:
          garagetytus restart
          garagetytus restart --json
        """)

    @OptionGroup var output: JSONOption
    @Option(help: "Seconds to wait for each of stop and start.") var timeout: Double = 60

    func run() async throws {
        try await CLIRunner.run {
            try CLIRunner.requirePositive(timeout)
            let paths = try CLIRunner.bootstrappedPaths()
            let began = Date()
            let launcher = DaemonLauncher(paths: paths)
            _ = try launcher.stop(timeout: timeout)
            guard case let .started(s, _) = try launcher.start(timeout: timeout) else {
                throw DaemonError(.failed, "another garagetytus started while restarting")
            }
            let seconds = Date().timeIntervalSince(began)
            if output.json {
                CLIRunner.printJSON(LifecycleResult(action: "restarted", seconds: seconds, status: s))
            } else {
                print("garagetytus restarted (pid \(s.pidText)) in \(String(format: "%.2f", seconds)) s")
            }
        }
    }
}

struct LifecycleResult: Encodable {
    var action: String
    var seconds: Double?
    var status: DaemonStatus
}

struct StopResult: Encodable {
    var action: String
    var pid: Int32?
    var seconds: Double
}
