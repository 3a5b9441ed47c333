import Daemon
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The mount registry: one JSON file per mountpoint under `<data>/mounts/`, written by the mount
/// process. The one reader of it; a file that is not a record is refused with its name and left
/// as it is (never silently dropped: it may describe a live mount).
enum MountRegistry {
    struct Record {
        var mountpoint: String
        var workspace: String
        var pid: Int32
        var log: String
        var alive: Bool
        /// Its process died but the mountpoint is still mounted (kill -9, OOM).
        var stale: Bool { !alive && MountSpec.isMounted(mountpoint) }
    }

    static func directory(_ paths: Paths) -> String { paths.dataDir + "/mounts" }

    /// The record in `file`, nil if there is none.
    static func read(_ file: String) throws -> Record? {
        guard let data = FileManager.default.contents(atPath: file) else { return nil }
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let mp = obj["mountpoint"] as? String, let pid = (obj["pid"] as? NSNumber)?.int32Value, pid > 0 else {
            throw DaemonError(.corrupt, "mount registry file \(file) is not a valid record; it was left as it is",
                              fix: "if nothing is mounted there any more, remove it: rm \(file)")
        }
        return Record(mountpoint: mp, workspace: obj["workspace"] as? String ?? "", pid: pid, log: obj["log"] as? String ?? "",
                      alive: Sentinel.processIsAlive(pid))
    }

    /// Every record, by file name.
    static func all(_ paths: Paths) throws -> [Record] {
        let dir = directory(paths)
        return try ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
            .filter { $0.hasSuffix(".json") }.compactMap { try read(dir + "/" + $0) }
    }
}
