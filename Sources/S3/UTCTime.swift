import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// UTC timestamps formatted with `gmtime_r` — no locale or ICU machinery on hot paths
/// (request signing every second, every log line).
public enum UTCTime {
    /// `20130524T000000Z` (SigV4 `x-amz-date`).
    public static func amzDate(_ date: Date) -> String {
        let t = parts(date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", t.year, t.month, t.day, t.hour, t.minute, t.second)
    }

    /// `2026-11-23T05:32:36.123Z` (log lines).
    public static func iso8601Millis(_ date: Date) -> String {
        let t = parts(date)
        let ms = Int((date.timeIntervalSince1970 - floor(date.timeIntervalSince1970)) * 1000)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.year, t.month, t.day, t.hour, t.minute, t.second, ms)
    }

    private static func parts(_ date: Date) -> (year: Int32, month: Int32, day: Int32, hour: Int32, minute: Int32, second: Int32) {
        var secs = time_t(floor(date.timeIntervalSince1970))
        var tm = Glibc.tm()
        gmtime_r(&secs, &tm)
        return (tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec)
    }
}
