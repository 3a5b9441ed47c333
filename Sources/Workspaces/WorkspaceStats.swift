import Credentials
import Daemon
import Foundation
import S3

/// One workspace's traffic over a window: the daemon's rollups of its bucket and this host's live mounts.
public struct WorkspaceStats: Codable, Sendable {
    public var workspace: String
    public var window: String
    public var ops: Int64?
    public var bytesIn: Int64?
    public var bytesOut: Int64?
    public var mountBytesRead: Int64
    public var mountBytesWritten: Int64
    public var mountErrors: Int
    enum CodingKeys: String, CodingKey {
        case workspace, window, ops, bytesIn = "bytes_written", bytesOut = "bytes_read", mountBytesRead = "mount_bytes_read"
        case mountBytesWritten = "mount_bytes_written", mountErrors = "mount_errors"
    }
}

extension WorkspaceHost {
    /// Operations and bytes per workspace (all, or `workspace`) over `window` (1h, 24h or 7d).
    public func stats(workspace: String?, window: String) throws -> [WorkspaceStats] {
        guard ["1h", "24h", "7d"].contains(window) else { throw DaemonError(.usage, "invalid --window \"\(window.prefix(20))\"", fix: "use 1h, 24h or 7d") }
        let records = try workspace.map { [try store.load($0)] } ?? store.list()
        let mounts = try liveMounts().map { MountHealth.probe($0) }
        return records.map { r in
            let traffic = (try? control.json("GET", "/v1/buckets/\(SigV4.uriEncode(r.bucket))", as: BucketInfo.self))?.traffic[window]
            let mine = mounts.filter { $0.workspace == r.name }
            return WorkspaceStats(workspace: r.name, window: window, ops: traffic?.ops, bytesIn: traffic?.bytesIn, bytesOut: traffic?.bytesOut,
                                  mountBytesRead: mine.reduce(0) { $0 + $1.bytesRead }, mountBytesWritten: mine.reduce(0) { $0 + $1.bytesWritten },
                                  mountErrors: mine.reduce(0) { $0 + $1.opErrors + $1.uploadsFailed })
        }
    }
}
