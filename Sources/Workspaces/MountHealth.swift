import Daemon
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A live mount as seen from outside: does it answer, and what its `.stats` say.
public struct MountHealth: Codable, Sendable {
    public var mountpoint: String
    public var workspace: String
    public var pid: Int32
    public var responsive: Bool
    public var uploadsPending: Int
    public var uploadsFailed: Int
    public var opErrors: Int
    public var bytesRead: Int64
    public var bytesWritten: Int64
    public var lastError: String?

    enum CodingKeys: String, CodingKey {
        case mountpoint, workspace, pid, responsive, uploadsPending = "uploads_pending", uploadsFailed = "uploads_failed", opErrors = "op_errors"
        case bytesRead = "bytes_read", bytesWritten = "bytes_written", lastError = "last_error"
    }

    /// Reads `<mountpoint>/.stats` in a child process, so a hung mount cannot hang this one.
    public static func probe(_ m: WorkspaceHost.MountRecord, timeout: Double = 2) -> MountHealth {
        var h = MountHealth(mountpoint: m.mountpoint, workspace: m.workspace, pid: m.pid, responsive: false, uploadsPending: 0, uploadsFailed: 0,
                            opErrors: 0, bytesRead: 0, bytesWritten: 0, lastError: nil)
        h.lastError = LogTail.lines(of: m.log, count: 200).last { $0.contains(" error mount: ") }
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

public struct HostStatus: Codable, Sendable {
    public struct DaemonPart: Codable, Sendable { public var running: Bool; public var ready: Bool; public var mode: String?; public var healthy: Bool }
    public var daemon: DaemonPart
    public var workspaces: [String]
    public var mounts: [MountHealth]

    public static func gather(_ w: WorkspaceHost) throws -> HostStatus {
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
    public func problems(needsDaemon: Bool) -> [String] {
        var out: [String] = []
        if (daemon.running || needsDaemon) && !daemon.healthy {
            out.append(daemon.running ? "the daemon is not ready or its engine is down (see `garagetytus status`)" : "the daemon is not running (`garagetytus start`)")
        }
        for m in mounts where !m.responsive { out.append("the mount on \(m.mountpoint) does not answer (pid \(m.pid))") }
        return out
    }
}


/// This host's mounts as the daemon's dashboard shows them: each live one probed (`.stats`),
/// each whose process died named as such.
public enum HostMounts {
    public static func current(_ paths: Paths) -> [HostMount] {
        let records = (try? WorkspaceHost(paths: paths).mountRecords()) ?? []
        let live = records.filter(\.alive).map { r -> HostMount in
            let h = MountHealth.probe(r)
            let healthy = h.responsive && h.uploadsFailed == 0
            let detail = !h.responsive ? "does not answer" + (h.lastError.map { ": \($0)" } ?? "")
                : "\(h.uploadsPending) uploads pending, \(h.uploadsFailed) failed, \(h.opErrors) errors; read \(h.bytesRead >> 20) MiB, written \(h.bytesWritten >> 20) MiB"
            return HostMount(mountpoint: r.mountpoint, workspace: r.workspace, healthy: healthy, detail: detail)
        }
        let dead = records.filter(\.stale).map {
            HostMount(mountpoint: $0.mountpoint, workspace: $0.workspace, healthy: false,
                      detail: "its process \($0.pid) is gone: `artifacts unmount \($0.mountpoint)`, then mount again")
        }
        return live + dead
    }
}
