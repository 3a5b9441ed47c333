import Foundation

/// `systemctl` for one manager: the system's, or the calling user's (`--user`).
public struct Systemctl: Sendable {
    /// Where systemd's own marker of a booted system lives (`sd_booted(3)`).
    let bootedMarker: String
    let program: String
    let environment: [String: String]

    public init(bootedMarker: String = "/run/systemd/system", program: String = "/usr/bin/systemctl",
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.bootedMarker = bootedMarker
        self.program = program
        self.environment = environment
    }

    /// Whether that manager runs here: systemd booted the host, and for `.user` the user's
    /// manager has its runtime directory.
    public func isRunning(_ scope: SystemdService.Scope) -> Bool {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: bootedMarker, isDirectory: &isDir), isDir.boolValue,
              FileManager.default.isExecutableFile(atPath: program) else { return false }
        guard scope == .user else { return true }
        guard let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty else { return false }
        return FileManager.default.fileExists(atPath: runtime + "/systemd")
    }

    func requireRunning(_ scope: SystemdService.Scope) throws {
        guard isRunning(scope) else {
            let why = FileManager.default.fileExists(atPath: bootedMarker)
                ? "the user's systemd manager is not running (no $XDG_RUNTIME_DIR/systemd; log in with a session, or use --system)"
                : "systemd is not running on this host (no \(bootedMarker); in a container?)"
            throw DaemonError(.environment, why,
                              fix: "run `garagetytus serve` under your own supervisor (or `garagetytus start`); `garagetytus service install --dry-run` prints the unit")
        }
    }

    func run(_ scope: SystemdService.Scope, _ args: [String]) throws {
        let (status, output) = try invoke(scope, args)
        guard status == 0 else {
            throw DaemonError(.failed, "systemctl \(scope == .user ? "--user " : "")\(args.joined(separator: " ")) failed: \(output.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    /// systemctl's one-word answer (`enabled`, `active`, …), whatever its exit status.
    func answer(_ scope: SystemdService.Scope, _ args: [String]) -> String? {
        (try? invoke(scope, args)).map { $0.output.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    private func invoke(_ scope: SystemdService.Scope, _ args: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program)
        p.arguments = (scope == .user ? ["--user"] : []) + args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
