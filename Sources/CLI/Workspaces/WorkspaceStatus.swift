import ArgumentParser
import Credentials
import Daemon
import Foundation
import S3

/// A live mount as seen from outside: does it answer, and what its `.stats` say.
struct MountHealth: Codable {
    var mountpoint: String
    var workspace: String
    var pid: Int32
    var responsive: Bool
    var uploadsPending: Int
    var uploadsFailed: Int
    var opErrors: Int
    var bytesRead: Int64
    var bytesWritten: Int64
    var lastError: String?

    enum CodingKeys: String, CodingKey {
        case mountpoint, workspace, pid, responsive, uploadsPending = "uploads_pending", uploadsFailed = "uploads_failed", opErrors = "op_errors"
        case bytesRead = "bytes_read", bytesWritten = "bytes_written", lastError = "last_error"
    }

    /// Reads `<mountpoint>/.stats` in a child process, so a hung mount cannot hang this one.
    static func probe(_ m: Workspaces.MountRecord, timeout: Double = 2) -> MountHealth {
        var h = MountHealth(mountpoint: m.mountpoint, workspace: m.workspace, pid: m.pid, responsive: false, uploadsPending: 0, uploadsFailed: 0,
                            opErrors: 0, bytesRead: 0, bytesWritten: 0, lastError: nil)
        h.lastError = LogTail.lines(of: m.log, count: 200).last { $0.contains(" error: ") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/cat")
        p.arguments = [m.mountpoint + "/.stats"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return h }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(10_000) }
        guard !p.isRunning, p.terminationStatus == 0 else {
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            return h
        }
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        h.responsive = true
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let v = Double(parts[1]) else { continue }
            switch parts[0] {
            case "garagetytus_uploads_pending": h.uploadsPending = Int(v)
            case "garagetytus_uploads_failed_total": h.uploadsFailed = Int(v)
            case "garagetytus_fuse_read_bytes_total": h.bytesRead = Int64(v)
            case "garagetytus_fuse_written_bytes_total": h.bytesWritten = Int64(v)
            default: if parts[0].hasPrefix("garagetytus_fuse_op_errors_total") { h.opErrors += Int(v) }
            }
        }
        return h
    }
}

struct HostStatus: Codable {
    struct DaemonPart: Codable { var running: Bool; var ready: Bool; var mode: String?; var healthy: Bool }
    var daemon: DaemonPart
    var workspaces: [String]
    var mounts: [MountHealth]

    static func gather(_ w: Workspaces) throws -> HostStatus {
        let s = w.control.status()
        let daemon = DaemonPart(running: s?.running ?? false, ready: s?.ready ?? false, mode: s?.mode?.rawValue,
                                healthy: (s?.running ?? false) && (s?.ready ?? false) && s?.engine?.state == "up")
        let records = try w.mountRecords()
        let stale = records.filter(\.stale).map {
            MountHealth(mountpoint: $0.mountpoint, workspace: $0.workspace, pid: $0.pid, responsive: false, uploadsPending: 0, uploadsFailed: 0,
                        opErrors: 0, bytesRead: 0, bytesWritten: 0,
                        lastError: "the mount process \($0.pid) is gone; clean up with `artifacts unmount \($0.mountpoint)` and mount again")
        }
        return HostStatus(daemon: daemon, workspaces: ((try? w.store.list()) ?? []).map(\.name),
                          mounts: records.filter(\.alive).map { MountHealth.probe($0) } + stale)
    }

    /// Why this host is not healthy, or nil: the daemon (when it runs or a managed workspace needs it) and every mount.
    func problems(needsDaemon: Bool) -> [String] {
        var out: [String] = []
        if (daemon.running || needsDaemon) && !daemon.healthy {
            out.append(daemon.running ? "the daemon is not ready or its engine is down (see `garagetytus status`)" : "the daemon is not running (`garagetytus start`)")
        }
        for m in mounts where !m.responsive { out.append("the mount on \(m.mountpoint) does not answer (pid \(m.pid))") }
        return out
    }
}

struct ArtifactsStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "The daemon's health and every workspace mount of this host (responsive, uploads pending, last error).",
        discussion: "Examples:\n  artifacts status\n  artifacts --format json status | jq '.mounts[] | select(.responsive | not)'")
    @OptionGroup var output: FormatOption

    func run() async throws {
        try await CLIRunner.run {
            let st = try HostStatus.gather(try Workspaces.current())
            if output.json { CLIRunner.printJSON(st); return }
            var lines = ["daemon: " + (st.daemon.running ? "running, \(st.daemon.healthy ? "healthy" : "not healthy"), mode \(st.daemon.mode ?? "?")" : "not running")]
            lines.append("workspaces: " + (st.workspaces.isEmpty ? "none" : st.workspaces.joined(separator: ", ")))
            for m in st.mounts {
                lines.append("mount \(m.mountpoint) (\(m.workspace.isEmpty ? "no workspace" : m.workspace), pid \(m.pid)): "
                             + (m.responsive ? "responsive, \(m.uploadsPending) uploads pending, \(m.uploadsFailed) failed" : "NOT RESPONDING")
                             + (m.lastError.map { "; last error: \($0)" } ?? ""))
            }
            print(lines.joined(separator: "\n"))
        }
    }
}

struct ArtifactsHealthz: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "healthz", abstract: "Exit 0 and print ok when the daemon (if used) and every mount of this host answer.",
        discussion: "Examples:\n  artifacts healthz\n  HEALTHCHECK CMD artifacts healthz     # in a Dockerfile")

    func run() async throws {
        try await CLIRunner.run {
            let w = try Workspaces.current()
            let needsDaemon = ((try? w.store.list()) ?? []).contains { $0.kind == .managed }
            let problems = try HostStatus.gather(w).problems(needsDaemon: needsDaemon)
            if problems.isEmpty { print("ok"); return }
            print("unhealthy: " + problems.joined(separator: "; "))
            throw ExitCode(1)
        }
    }
}

struct ArtifactsStats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Operations, bytes and errors per workspace over 1h, 24h or 7d.",
        discussion: """
        From the daemon's per-bucket rollups (managed workspaces, and any workspace whose bucket the
        local daemon serves) and the counters of this host's live mounts (since each mount started).

        Examples:
          artifacts stats
          artifacts stats cases --window 7d --format json
        """)
    @Argument(help: "Workspace (default: all).") var workspace: String?
    @Option(help: "1h, 24h or 7d.") var window: String = "24h"
    @OptionGroup var output: FormatOption

    struct Row: Codable {
        var workspace: String
        var window: String
        var ops: Int64?
        var bytesIn: Int64?
        var bytesOut: Int64?
        var mountBytesRead: Int64
        var mountBytesWritten: Int64
        var mountErrors: Int
        enum CodingKeys: String, CodingKey {
            case workspace, window, ops, bytesIn = "bytes_written", bytesOut = "bytes_read", mountBytesRead = "mount_bytes_read"
            case mountBytesWritten = "mount_bytes_written", mountErrors = "mount_errors"
        }
    }

    func run() async throws {
        try await CLIRunner.run {
            guard ["1h", "24h", "7d"].contains(window) else { throw DaemonError(.usage, "invalid --window \"\(window.prefix(20))\"", fix: "use 1h, 24h or 7d") }
            let w = try Workspaces.current()
            let records = try workspace.map { [try w.store.load($0)] } ?? w.store.list()
            let mounts = try w.liveMounts().map { MountHealth.probe($0) }
            let rows = records.map { r -> Row in
                let traffic = (try? w.control.json("GET", "/v1/buckets/\(SigV4.uriEncode(r.bucket))", as: BucketInfo.self))?.traffic[window]
                let mine = mounts.filter { $0.workspace == r.name }
                return Row(workspace: r.name, window: window, ops: traffic?.ops, bytesIn: traffic?.bytesIn, bytesOut: traffic?.bytesOut,
                           mountBytesRead: mine.reduce(0) { $0 + $1.bytesRead }, mountBytesWritten: mine.reduce(0) { $0 + $1.bytesWritten },
                           mountErrors: mine.reduce(0) { $0 + $1.opErrors + $1.uploadsFailed })
            }
            if output.json { CLIRunner.printJSON(rows); return }
            if rows.isEmpty { print("no workspaces"); return }
            print(Human.table([["WORKSPACE", "WINDOW", "OPS", "READ", "WRITTEN", "MOUNT READ", "MOUNT WRITTEN", "MOUNT ERRORS"]] + rows.map {
                [$0.workspace, $0.window, $0.ops.map(String.init) ?? "-", $0.bytesOut.map(Human.bytes) ?? "-", $0.bytesIn.map(Human.bytes) ?? "-",
                 Human.bytes($0.mountBytesRead), Human.bytes($0.mountBytesWritten), "\($0.mountErrors)"]
            }))
        }
    }
}
