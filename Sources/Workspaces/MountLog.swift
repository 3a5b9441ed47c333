import Daemon
import Foundation
import Logging

/// A mount process logs through swift-log with the daemon's handler and line format
/// (`<time> <level> mount: <message> key=value`), on stderr: a background mount's stderr is its
/// log file (`<logs>/mount-<mountpoint>.log`), a foreground one's the terminal.
public enum MountLog {
    /// Installs the handler (once per process: swift-log allows one bootstrap) and returns the
    /// mount's logger. `GARAGETYTUS_LOG_LEVEL` sets the level, as for the daemon.
    public static func bootstrap(environment: [String: String] = ProcessInfo.processInfo.environment) -> Logger {
        let sink = FileLogHandler.Sink.standardError()
        let level = Logger.Level(rawValue: environment["GARAGETYTUS_LOG_LEVEL"] ?? "info") ?? .info
        LoggingSystem.bootstrap { label in
            var h = FileLogHandler(label: label, sink: sink)
            h.logLevel = level
            return h
        }
        return Logger(label: "mount")
    }
}
