import Credentials
import Foundation

/// `unclean_shutdown_total.txt`: how many times the daemon died without a clean stop. Survives restarts.
public struct UncleanCounter: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// The persisted count; 0 when the file does not exist. A corrupt file is an error, never reset.
    public func read() throws -> Int {
        guard FileManager.default.fileExists(atPath: path) else { return 0 }
        guard let data = FileManager.default.contents(atPath: path),
              let text = String(data: data, encoding: .utf8),
              let n = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), n >= 0 else {
            throw DaemonError(.corrupt, "\(path) does not hold a non-negative integer",
                              fix: "write the last known count into it (or 0) and start again")
        }
        return n
    }

    /// Adds one and persists atomically; returns the new count.
    public func increment() throws -> Int {
        let next = try read() + 1
        try AtomicFile.write("\(next)\n", to: path)
        return next
    }
}
