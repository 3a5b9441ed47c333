import Foundation

/// Where the daemon keeps its files, from the environment.
///
/// `GARAGETYTUS_HOME=DIR` puts everything under DIR (`DIR/config`, `DIR/data`); otherwise XDG:
/// config in `$XDG_CONFIG_HOME/garagetytus` (default `~/.config/garagetytus`) and data in
/// `$XDG_DATA_HOME/garagetytus` (default `~/.local/share/garagetytus`), logs under data.
public struct Paths: Sendable, Equatable {
    public var configDir: String
    public var dataDir: String

    public init(configDir: String, dataDir: String) {
        self.configDir = configDir
        self.dataDir = dataDir
    }

    public static func resolve(environment env: [String: String] = ProcessInfo.processInfo.environment) throws -> Paths {
        if let home = env["GARAGETYTUS_HOME"] {
            guard !home.isEmpty else {
                throw DaemonError(.usage, "GARAGETYTUS_HOME is set but empty", fix: "unset it or point it at a directory")
            }
            let abs = absolute(home)
            return Paths(configDir: abs + "/config", dataDir: abs + "/data")
        }
        guard let userHome = env["HOME"], !userHome.isEmpty else {
            throw DaemonError(.usage, "neither GARAGETYTUS_HOME nor HOME is set", fix: "set GARAGETYTUS_HOME=DIR")
        }
        let config = nonEmpty(env["XDG_CONFIG_HOME"]) ?? userHome + "/.config"
        let data = nonEmpty(env["XDG_DATA_HOME"]) ?? userHome + "/.local/share"
        return Paths(configDir: absolute(config) + "/garagetytus", dataDir: absolute(data) + "/garagetytus")
    }

    public var configFile: String { configDir + "/garagetytus.toml" }
    public var identityFile: String { configDir + "/engine-identity.json" }
    public var logDir: String { dataDir + "/logs" }
    public var logFile: String { logDir + "/garagetytus.log" }
    public var auditLog: String { logDir + "/audit.jsonl" }
    /// stdout/stderr of a daemon started in the background (crash output lands here).
    public var serveOutput: String { logDir + "/serve.out" }
    public var engineLog: String { logDir + "/engine.log" }
    public var engineDir: String { dataDir + "/engine" }
    public var engineConfigFile: String { dataDir + "/engine/s3-identities.json" }
    public var enginePidFile: String { dataDir + "/engine.pid" }
    public var stateDB: String { dataDir + "/state.db" }
    public var sentinel: String { dataDir + "/sentinel.lock" }
    public var uncleanCounter: String { dataDir + "/unclean_shutdown_total.txt" }
    public var watchdogFile: String { dataDir + "/watchdog.json" }
    public var pidFile: String { dataDir + "/garagetytus.pid" }
    public var controlSocket: String { dataDir + "/control.sock" }

    private static func nonEmpty(_ s: String?) -> String? {
        guard let s, !s.isEmpty else { return nil }
        return s
    }

    private static func absolute(_ path: String) -> String {
        var p = path
        if !p.hasPrefix("/") { p = FileManager.default.currentDirectoryPath + "/" + p }
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        return p
    }
}

extension Paths {
    /// This program's own executable (what a background daemon, a mount, a unit or a mount
    /// helper runs again).
    public static var ownExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
