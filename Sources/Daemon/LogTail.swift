import Foundation

/// The last lines of a log file, read from its end (logs can be large).
public enum LogTail {
    public static func lines(of path: String, count: Int, maxBytes: Int = 64 << 10) -> [String] {
        guard let h = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? h.close() }
        let end = (try? h.seekToEnd()) ?? 0
        let start = end > UInt64(maxBytes) ? end - UInt64(maxBytes) : 0
        try? h.seek(toOffset: start)
        let data = (try? h.readToEnd()) ?? Data()
        let all = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true)
        return all.suffix(count).map(String.init)
    }
}
