import Credentials
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `garagetytus service install|uninstall|status`: a systemd unit that runs `garagetytus serve`
/// (`Type=notify`, so systemd knows when it serves; restarted on failure; its log in the journal),
/// for the user's manager (`--user`, the default) or the system's (`--system`, as root).
public struct SystemdService: Sendable {
    public enum Scope: String, Sendable {
        case user, system
    }

    public static let unitName = "garagetytus.service"
    public let scope: Scope
    /// Where the unit file goes.
    public let unitPath: String
    /// The `garagetytus` the unit runs.
    public let executable: String
    /// `GARAGETYTUS_HOME`, when the installing shell had one: the service uses the same home.
    public let home: String?
    /// systemd's watchdog: a sign of life is expected this often (`WatchdogSec=`).
    public let watchdogSeconds: Int
    let systemctl: Systemctl

    public init(scope: Scope, executable: String, environment: [String: String], watchdogInterval: Double,
                systemctl: Systemctl = Systemctl()) throws {
        self.scope = scope
        self.executable = executable
        self.systemctl = systemctl
        home = environment["GARAGETYTUS_HOME"].flatMap { $0.isEmpty ? nil : $0 }
        // Three missed ticks of the daemon's own watchdog (which sends the signs), at least 30 s.
        watchdogSeconds = max(30, Int((watchdogInterval * 3).rounded(.up)))
        switch scope {
        case .system:
            unitPath = "/etc/systemd/system/" + Self.unitName
        case .user:
            let config = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
                ?? environment["HOME"].map { $0 + "/.config" }
            guard let config else {
                throw DaemonError(.usage, "neither XDG_CONFIG_HOME nor HOME is set: no place for a user unit", fix: "set HOME, or use --system")
            }
            unitPath = config + "/systemd/user/" + Self.unitName
        }
        for (what, value) in [("the garagetytus path", executable), ("GARAGETYTUS_HOME", home ?? "")] where value.contains(where: { $0.isNewline || $0 == "\0" }) {
            throw DaemonError(.usage, "\(what) contains a line break, which a unit file cannot hold")
        }
    }

    /// The unit file's text.
    public var unit: String {
        var service = [
            "Type=notify",
            "NotifyAccess=main",
            "ExecStart=\(Self.quoted(executable)) serve",
            "Restart=on-failure",
            "RestartSec=2",
            "TimeoutStartSec=120",
            "TimeoutStopSec=90",
            "WatchdogSec=\(watchdogSeconds)",
            // SIGTERM to the daemon alone, which stops its engine itself; SIGKILL to all after the timeout.
            "KillMode=mixed",
        ]
        if let home { service.append("Environment=\(Self.quoted("GARAGETYTUS_HOME=" + home))") }
        return """
        # Written by `garagetytus service install --\(scope.rawValue)`; removed by `garagetytus service uninstall --\(scope.rawValue)`.
        [Unit]
        Description=garagetytus: host-local S3 service (buckets, grants, mounts)
        After=network.target

        [Service]
        \(service.joined(separator: "\n"))

        [Install]
        WantedBy=\(scope == .user ? "default.target" : "multi-user.target")

        """
    }

    /// A value in double quotes as systemd reads it: `\` and `"` escaped, `%` doubled (specifiers),
    /// `$` doubled (no variable expansion).
    static func quoted(_ s: String) -> String {
        var out = "\""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "%": out += "%%"
            case "$": out += "$$"
            default: out.append(c)
            }
        }
        return out + "\""
    }

    public enum InstallResult: String, Sendable { case installed, updated, unchanged }

    /// Writes the unit (atomically), reloads systemd and enables and starts the service. Refuses
    /// before changing anything where systemd does not run.
    public func install() throws -> InstallResult {
        try systemctl.requireRunning(scope)
        let old = try? String(contentsOfFile: unitPath, encoding: .utf8)
        let result: InstallResult = old == nil ? .installed : old == unit ? .unchanged : .updated
        if result != .unchanged {
            try FileManager.default.createDirectory(atPath: (unitPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try AtomicFile.write(unit, to: unitPath, mode: 0o644)
            try systemctl.run(scope, ["daemon-reload"])
        }
        try systemctl.run(scope, ["enable", "--now", Self.unitName])
        return result
    }

    /// Stops and disables the service and removes the unit; false when there was none.
    public func uninstall() throws -> Bool {
        guard FileManager.default.fileExists(atPath: unitPath) else { return false }
        try systemctl.requireRunning(scope)
        try systemctl.run(scope, ["disable", "--now", Self.unitName])
        try FileManager.default.removeItem(atPath: unitPath)
        try systemctl.run(scope, ["daemon-reload"])
        return true
    }

    public struct Status: Codable, Sendable {
        public var scope: String
        public var unitPath: String
        public var installed: Bool
        /// systemd's words (`systemctl is-enabled` / `is-active`); nil where systemd does not run.
        public var enabled: String?
        public var active: String?
        public var systemd: Bool

        enum CodingKeys: String, CodingKey {
            case scope, installed, enabled, active, systemd
            case unitPath = "unit_path"
        }
    }

    public func status() -> Status {
        let running = systemctl.isRunning(scope)
        return Status(scope: scope.rawValue, unitPath: unitPath, installed: FileManager.default.fileExists(atPath: unitPath),
                      enabled: running ? systemctl.answer(scope, ["is-enabled", Self.unitName]) : nil,
                      active: running ? systemctl.answer(scope, ["is-active", Self.unitName]) : nil, systemd: running)
    }
}
