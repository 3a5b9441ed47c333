import Credentials
import Daemon
import Foundation
import S3
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The mount registry: one JSON file per mountpoint under `<data>/mounts/`, written by the mount
/// process. The one reader of it; a file that is not a record is refused with its name and left
/// as it is (never silently dropped: it may describe a live mount).
public enum MountRegistry {
    public struct Record {
        public var mountpoint: String
        public var workspace: String
        public var pid: Int32
        public var log: String
        public var alive: Bool
        /// Which key the mount signs with now (`fingerprint`), updated when it switches.
        public var keyFingerprint: String?
        /// Its process died but the mountpoint is still mounted (kill -9, OOM).
        public var stale: Bool { !alive && MountSpec.isMounted(mountpoint) }
    }

    public static func directory(_ paths: Paths) -> String { paths.dataDir + "/mounts" }

    /// The record in `file`, nil if there is none.
    public static func read(_ file: String) throws -> Record? {
        guard let data = FileManager.default.contents(atPath: file) else { return nil }
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let mp = obj["mountpoint"] as? String, let pid = (obj["pid"] as? NSNumber)?.int32Value, pid > 0 else {
            throw DaemonError(.corrupt, "mount registry file \(file) is not a valid record; it was left as it is",
                              fix: "if nothing is mounted there any more, remove it: rm \(file)")
        }
        return Record(mountpoint: mp, workspace: obj["workspace"] as? String ?? "", pid: pid, log: obj["log"] as? String ?? "",
                      alive: Sentinel.processIsAlive(pid), keyFingerprint: obj["key_fingerprint"] as? String)
    }

    /// A short, one-way name of an access key: lets `workspace rotate` see which key a mount uses
    /// without the registry holding the key itself.
    public static func fingerprint(_ accessKeyID: String) -> String {
        String(SigV4.sha256Hex(Data(accessKeyID.utf8)).prefix(16))
    }

    /// The live mount's side: writes its record (tmp + rename), again whenever its key changes.
    public final class Writer: Sendable {
        public let file: String
        public let fields: [String: String]
        public let pid: Int
        public let startedAt: Double
        private let lock = Mutex<Void>(())

        public init(file: String, fields: [String: String]) {
            self.file = file
            self.fields = fields
            pid = Int(getpid())
            startedAt = Date().timeIntervalSince1970
        }

        public func write(accessKeyID: String) throws {
            var record: [String: Any] = fields
            record["pid"] = pid
            record["started_at"] = startedAt
            record["key_fingerprint"] = MountRegistry.fingerprint(accessKeyID)
            let data = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
            try lock.withLock { _ in try AtomicFile.write(data, to: file) }
        }
    }

    /// Every record, by file name.
    public static func all(_ paths: Paths) throws -> [Record] {
        let dir = directory(paths)
        return try ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
            .filter { $0.hasSuffix(".json") }.compactMap { try read(dir + "/" + $0) }
    }
}
