import Foundation
import S3
import Synchronization

/// The audit trail: one JSON line per lifecycle event (bucket created/expired/deny-all/allow, grant
/// minted/revoked/cleanup-pending) and per refused request. Control characters are stripped, long
/// values cut with "…", secrets are never passed in. Rotated by size to `<file>.1`.
public final class AuditLog: Sendable {
    public let path: String
    let maxBytes: Int
    let now: @Sendable () -> Date
    private let lock = Mutex<Int?>(nil)  // the file's size, once known

    public init(path: String, maxBytes: Int = 16 << 20, now: @escaping @Sendable () -> Date = { Date() }) {
        self.path = path
        self.maxBytes = maxBytes
        self.now = now
    }

    /// Appends `{"at": …, "event": event, …fields}`; never throws (a full disk must not stop requests).
    public func record(_ event: String, _ fields: [(String, String)]) {
        var line = "{\"at\":\"\(UTCTime.iso8601Millis(now()))\",\"event\":\(Self.quote(event))"
        for (k, v) in fields { line += ",\(Self.quote(k)):\(Self.quote(v))" }
        line += "}\n"
        let bytes = Array(line.utf8)
        lock.withLock { size in
            var current = size ?? Int((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
            if current + bytes.count > maxBytes {
                _ = rename(path, path + ".1")
                current = 0
            }
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return }
            defer { close(fd) }
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            size = current + max(0, written)
        }
    }

    /// A JSON string of `value` with control characters removed and at most 256 characters.
    static func quote(_ value: String) -> String {
        var clean = String(value.unicodeScalars.filter { $0.value >= 32 && $0.value != 127 && !(0x80...0x9F).contains($0.value) }.map(Character.init))
        if clean.count > 256 { clean = String(clean.prefix(255)) + "…" }
        var out = "\""
        for ch in clean.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out + "\""
    }
}
