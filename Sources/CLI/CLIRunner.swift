import ArgumentParser
import Credentials
import Daemon
import Foundation
import Workspaces

/// Runs a command body; a `DaemonError` becomes `error: <what> — <what to do>` on stderr and the
/// exit code `DaemonError.exitCode` decides. Nothing else here picks exit codes.
enum CLIRunner {
    static func run(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let e as DaemonError {
            printError(e.description)
            throw ExitCode(e.exitCode)
        } catch let e as WorkspaceError {
            let d = DaemonError(e.kind == .corrupt ? .corrupt : .usage, e.message, fix: e.fix)
            printError(d.description)
            throw ExitCode(d.exitCode)
        }
    }

    /// One line, cut in the middle when long (a 64 KiB argument is not echoed back whole).
    /// A secret was given as a command-line argument: every user of the host can read it in the
    /// process list while the command runs. It still works; this says so, once, on stderr.
    static func warnSecretInArgv(_ flag: String, instead: String) {
        FileHandle.standardError.write(Data("warning: \(flag) puts the secret in the process list, where every user of this host can read it; use \(instead)\n".utf8))
    }

    static func printError(_ line: String) {
        FileHandle.standardError.write(Data("error: \(CLIMain.shorten(line, max: 400))\n".utf8))
    }

    static func printJSON<T: Encodable>(_ value: T) {
        let data = (try? DaemonStatus.encoder.encode(value)) ?? Data("{}".utf8)
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }

    static func resolvePaths() throws -> Paths {
        try Paths.resolve()
    }

    /// Paths of a bootstrapped home whose config is valid: what every command that starts the daemon needs first.
    static func bootstrappedPaths() throws -> Paths {
        let paths = try Paths.resolve()
        try Bootstrap.run(paths: paths)
        _ = try Bootstrap.loadConfig(paths: paths)
        return paths
    }

    static func requirePositive(_ timeout: Double) throws {
        guard timeout > 0 else { throw DaemonError(.usage, "--timeout must be positive", fix: "give the number of seconds to wait") }
    }
}

/// `--json` for commands that print a result.
struct JSONOption: ParsableArguments {
    @Flag(name: .long, help: "Print the result as JSON (for scripts).")
    var json = false
}
