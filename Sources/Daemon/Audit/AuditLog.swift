import Foundation
import S3
import Synchronization

/// The audit trail: one JSON line per lifecycle event (bucket created/expired/deny-all/allow, grant
/// minted/revoked/cleanup-pending, workspace grants) and per refused request of a verified caller.
/// Requests refused before any signature was verified (anonymous junk, unknown keys, bad
/// signatures) are counted per source and written once a minute, so a flood cannot push the record
/// out. Every event but a single request's refusal is also kept in the state DB (`garagetytus
/// audit`), which no rotation drops. Control characters are stripped, long values cut with "…",
/// secrets are never passed in. The file is rotated by size to `<file>.1`.
public final class AuditLog: Sendable {
    public let path: String
    let maxBytes: Int
    let now: @Sendable () -> Date
    let store: StateStore?
    private let lock = Mutex<Int?>(nil)  // the file's size, once known
    /// Unauthenticated refusals of the current minute: source → reason → count.
    private let refusals = Mutex<(since: Date, counts: [String: [String: Int]])>((Date.distantPast, [:]))
    static let refusalWindow: TimeInterval = 60

    public init(path: String, maxBytes: Int = 16 << 20, store: StateStore? = nil, now: @escaping @Sendable () -> Date = { Date() }) {
        self.path = path
        self.maxBytes = maxBytes
        self.store = store
        self.now = now
    }

    /// Counts one request refused before its signature was verified.
    public func countRefusal(source: String, reason: String) {
        let t = now()
        let due = refusals.withLock { w -> (Date, [String: [String: Int]])? in
            var out: (Date, [String: [String: Int]])?
            if t.timeIntervalSince(w.since) >= Self.refusalWindow {
                if !w.counts.isEmpty { out = (w.since, w.counts) }
                w = (t, [:])
            }
            w.counts[source, default: [:]][reason, default: 0] += 1
            return out
        }
        if let due { writeRefusals(since: due.0, due.1) }
    }

    /// Writes the counts of a minute that has passed (the janitor calls this every tick, so a
    /// minute's count is written even when no request follows it).
    public func flushRefusals() {
        let t = now()
        let due = refusals.withLock { w -> (Date, [String: [String: Int]])? in
            guard !w.counts.isEmpty, t.timeIntervalSince(w.since) >= Self.refusalWindow else { return nil }
            defer { w = (t, [:]) }
            return (w.since, w.counts)
        }
        if let due { writeRefusals(since: due.0, due.1) }
    }

    private func writeRefusals(since: Date, _ counts: [String: [String: Int]]) {
        for (source, reasons) in counts.sorted(by: { $0.key < $1.key }) {
            let total = reasons.values.reduce(0, +)
            record("unauthenticated_refused", [("source", source), ("count", "\(total)"), ("since", UTCTime.iso8601Seconds(since)),
                                                ("reasons", reasons.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))])
        }
    }

    /// Appends `{"at": …, "event": event, …fields}`; never throws (a full disk must not stop requests).
    public func record(_ event: String, _ fields: [(String, String)]) {
        let at = now()
        if event != "request_refused" { store?.recordAudit(at: at, event: event, fields: fields.map { ($0.0, Self.clean($0.1)) }) }
        var line = "{\"at\":\"\(UTCTime.iso8601Millis(at))\",\"event\":\(Self.quote(event))"
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

    /// `value` with control characters removed and at most 256 characters.
    static func clean(_ value: String) -> String {
        var clean = String(value.unicodeScalars.filter { $0.value >= 32 && $0.value != 127 && !(0x80...0x9F).contains($0.value) }.map(Character.init))
        if clean.count > 256 { clean = String(clean.prefix(255)) + "…" }
        return clean
    }

    /// A JSON string of `clean(value)`.
    static func quote(_ value: String) -> String {
        var out = "\""
        for ch in clean(value).unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out + "\""
    }
}
