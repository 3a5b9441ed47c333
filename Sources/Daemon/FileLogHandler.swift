import Credentials
import Foundation
import Logging
import S3
import Synchronization

/// A swift-log handler that appends one line per message to a file (and optionally stderr):
/// `2026-11-23T05:32:36.123Z notice garagetytus: message key=value`. The daemon and every mount
/// process log through it. Metadata that names a key is masked (`access_key…` → `GKAB***WXYZ`),
/// metadata that names a secret is never written (`secret…`, `session_token` → `***`).
public struct FileLogHandler: LogHandler {
    /// One open file shared by every logger of the process.
    public final class Sink: Sendable {
        private let handle: Mutex<FileHandle?>
        private let alsoStderr: Bool

        /// Lines to stderr only: a mount process, whose stderr is its log file when it runs in the background.
        public static func standardError() -> Sink { Sink(handle: nil, alsoStderr: true) }

        private init(handle: FileHandle?, alsoStderr: Bool) {
            self.handle = Mutex(handle)
            self.alsoStderr = alsoStderr
        }

        public init(path: String, alsoStderr: Bool) {
            if !FileManager.default.fileExists(atPath: path) {
                FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
            }
            let h = FileHandle(forWritingAtPath: path)
            _ = try? h?.seekToEnd()
            handle = Mutex(h)
            self.alsoStderr = alsoStderr
        }

        func write(_ line: String) {
            let data = Data(line.utf8)
            handle.withLock { h in try? h?.write(contentsOf: data) }
            if alsoStderr { FileHandle.standardError.write(data) }
        }
    }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String
    let sink: Sink

    public init(label: String, sink: Sink) {
        self.label = label
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let meta = all.isEmpty ? "" : " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.shown($0.key, $0.value))" }.joined(separator: " ")
        let ts = UTCTime.iso8601Millis(Date())
        sink.write("\(ts) \(event.level) \(label): \(Self.escaped("\(event.message)"))\(Self.escaped(meta))\n")
    }

    /// Control characters (a key may hold a newline) written as escapes: one message, one line.
    static func escaped(_ s: String) -> String {
        guard S3Key.hasControlCharacter(s) else { return s }
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20 || u.value == 0x7F: out += String(format: "\\x%02x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }

    /// What a metadata value looks like in the log: keys masked, secrets left out.
    static func shown(_ key: String, _ value: Logger.Metadata.Value) -> String {
        if key.contains("secret") || key.contains("session_token") { return "***" }
        if key.hasPrefix("access_key") { return KeyMask.mask("\(value)") }
        return "\(value)"
    }
}
