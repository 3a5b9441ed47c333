import ArgumentParser
import Daemon
import Foundation

/// `garagetytus service …`: the daemon as a systemd service.
struct ServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service",
        abstract: "Run the daemon as a systemd service: install, uninstall, status.",
        discussion: """
        The unit runs `garagetytus serve` as Type=notify: systemd learns when the daemon serves (READY=1), that it still runs (WATCHDOG=1 at every watchdog tick) and when it stops (STOPPING=1); it restarts it on failure, and the log goes to the journal.

        --user (the default) installs it for your user's systemd, --system for the host's (as root). Where systemd does not run (a container), install and uninstall refuse and change nothing.

        Examples:
          garagetytus service install --dry-run
          garagetytus service install
          journalctl --user -u garagetytus.service | grep -E "(unclean|repair tables)"
          garagetytus service status --json
          sudo garagetytus service install --system
          garagetytus service uninstall
        """,
        subcommands: [Install.self, Uninstall.self, ServiceStatus.self])

    /// The service of the chosen scope, for this `garagetytus` and this home.
    static func service(_ scope: ScopeOptions, watchdogInterval: Double) throws -> SystemdService {
        let exe = Paths.ownExecutable
        return try SystemdService(scope: try scope.scope(), executable: exe, environment: ProcessInfo.processInfo.environment,
                                  watchdogInterval: watchdogInterval)
    }

    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the unit, then enable and start the service (idempotent).",
            discussion: """
            Examples:
              garagetytus service install --dry-run
              garagetytus service install --user
            """)

        @OptionGroup var scope: ScopeOptions
        @Flag(help: "Print the unit and where it would go; change nothing.") var dryRun = false
        @OptionGroup var output: JSONOption

        func run() async throws {
            try await CLIRunner.run {
                // A dry run reads the config if there is one; an install makes the home first.
                let paths = dryRun ? try CLIRunner.resolvePaths() : try CLIRunner.bootstrappedPaths()
                let config = (try? Bootstrap.loadConfig(paths: paths)) ?? Config()
                let s = try ServiceCommand.service(scope, watchdogInterval: config.watchdog.intervalSeconds)
                if dryRun {
                    if output.json {
                        CLIRunner.printJSON(["action": "dry_run", "unit_path": s.unitPath, "unit": s.unit])
                    } else {
                        print("# \(s.unitPath)")
                        print(s.unit, terminator: "")
                    }
                    return
                }
                let result = try s.install()
                if output.json {
                    CLIRunner.printJSON(["action": result.rawValue, "unit_path": s.unitPath])
                } else {
                    let what = ["installed": "installed", "updated": "updated", "unchanged": "already installed"][result.rawValue] ?? result.rawValue
                    print("garagetytus.service \(what) at \(s.unitPath), enabled and started")
                    print("  logs: journalctl \(s.scope == .user ? "--user " : "")-u garagetytus.service")
                }
            }
        }
    }

    struct Uninstall: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop and disable the service and remove its unit (idempotent).",
            discussion: """
            Examples:
              garagetytus service uninstall
              sudo garagetytus service uninstall --system
            """)

        @OptionGroup var scope: ScopeOptions
        @OptionGroup var output: JSONOption

        func run() async throws {
            try await CLIRunner.run {
                let s = try ServiceCommand.service(scope, watchdogInterval: Config().watchdog.intervalSeconds)
                let removed = try s.uninstall()
                if output.json {
                    CLIRunner.printJSON(["action": removed ? "uninstalled" : "not_installed", "unit_path": s.unitPath])
                } else {
                    print(removed ? "garagetytus.service stopped, disabled and removed (\(s.unitPath))"
                                  : "garagetytus.service is not installed (no \(s.unitPath)); nothing to do")
                }
            }
        }
    }

    struct ServiceStatus: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Whether the unit is installed, enabled and active.",
            discussion: """
            Examples:
              garagetytus service status
              garagetytus service status --system --json
            """)

        @OptionGroup var scope: ScopeOptions
        @OptionGroup var output: JSONOption

        func run() async throws {
            try await CLIRunner.run {
                let st = try ServiceCommand.service(scope, watchdogInterval: Config().watchdog.intervalSeconds).status()
                if output.json { return CLIRunner.printJSON(st) }
                print("unit:      \(st.unitPath) (\(st.installed ? "installed" : "not installed"))")
                if st.systemd {
                    print("enabled:   \(st.enabled ?? "unknown")")
                    print("active:    \(st.active ?? "unknown")")
                } else {
                    print("systemd:   not running on this host")
                }
            }
        }
    }
}

/// `--user` or `--system` (default: --user).
struct ScopeOptions: ParsableArguments {
    @Flag(help: "The calling user's systemd (~/.config/systemd/user; the default).") var user = false
    @Flag(help: "The host's systemd (/etc/systemd/system; as root).") var system = false

    func scope() throws -> SystemdService.Scope {
        if user && system { throw DaemonError(.usage, "--user and --system exclude each other", fix: "give one of them") }
        return system ? .system : .user
    }
}
