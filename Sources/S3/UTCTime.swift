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
        return pad(t.year, 4) + pad(t.month, 2) + pad(t.day, 2) + "T" + pad(t.hour, 2) + pad(t.minute, 2) + pad(t.second, 2) + "Z"
    }

    /// `2026-11-23T05:32:36Z` (RFC 3339 UTC to the second: expiries, creation times).
    public static func iso8601Seconds(_ date: Date) -> String {
        let t = parts(date)
        return pad(t.year, 4) + "-" + pad(t.month, 2) + "-" + pad(t.day, 2) + "T" + pad(t.hour, 2) + ":" + pad(t.minute, 2) + ":"
            + pad(t.second, 2) + "Z"
    }

    /// `2026-11-23T05:32:36.123Z` (log lines).
    public static func iso8601Millis(_ date: Date) -> String {
        let t = parts(date)
        let ms = Int((date.timeIntervalSince1970 - floor(date.timeIntervalSince1970)) * 1000)
        return pad(t.year, 4) + "-" + pad(t.month, 2) + "-" + pad(t.day, 2) + "T" + pad(t.hour, 2) + ":" + pad(t.minute, 2) + ":"
            + pad(t.second, 2) + "." + pad(Int32(ms), 3) + "Z"
    }

    /// `2026-11-23T05:32:36.123Z` or without fraction (S3 listings' `LastModified`); nil if malformed.
    public static func parseISO8601(_ s: String) -> Date? {
        let b = Array(s.utf8)
        guard b.count >= 20, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T"),
              b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"), b.last == UInt8(ascii: "Z"),
              let y = number(b[0..<4]), let mo = number(b[5..<7]), let d = number(b[8..<10]),
              let h = number(b[11..<13]), let mi = number(b[14..<16]), let sec = number(b[17..<19]) else { return nil }
        var fraction = 0.0
        if b.count > 20 {
            guard b[19] == UInt8(ascii: "."), let f = number(b[20..<(b.count - 1)]) else { return nil }
            fraction = Double(f) / pow(10, Double(b.count - 21))
        }
        return make(y, mo, d, h, mi, sec).map { $0.addingTimeInterval(fraction) }
    }

    /// `20261123T053236Z` (`x-amz-date`); nil if malformed.
    public static func parseAmzDate(_ s: String) -> Date? {
        let b = Array(s.utf8)
        guard b.count == 16, b[8] == UInt8(ascii: "T"), b[15] == UInt8(ascii: "Z"),
              let y = number(b[0..<4]), let mo = number(b[4..<6]), let d = number(b[6..<8]),
              let h = number(b[9..<11]), let mi = number(b[11..<13]), let sec = number(b[13..<15]) else { return nil }
        return make(y, mo, d, h, mi, sec)
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT` (HTTP `Last-Modified`); nil if malformed.
    public static func parseHTTPDate(_ s: String) -> Date? {
        let f = s.split(separator: " ")
        guard f.count == 6, f[5] == "GMT", let d = number(f[1].utf8), let y = number(f[3].utf8),
              let mo = months.firstIndex(of: String(f[2])) else { return nil }
        let hms = f[4].split(separator: ":")
        guard hms.count == 3, let h = number(hms[0].utf8), let mi = number(hms[1].utf8), let sec = number(hms[2].utf8) else { return nil }
        return make(y, mo + 1, d, h, mi, sec)
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    private static func number<C: Collection>(_ digits: C) -> Int? where C.Element == UInt8 {
        guard !digits.isEmpty, digits.count <= 18 else { return nil }
        var v = 0
        for c in digits {
            guard c >= 48 && c <= 57 else { return nil }
            v = v * 10 + Int(c - 48)
        }
        return v
    }

    private static func make(_ y: Int, _ mo: Int, _ d: Int, _ h: Int, _ mi: Int, _ s: Int) -> Date? {
        guard (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61 else { return nil }
        var tm = Glibc.tm()
        tm.tm_year = Int32(y - 1900)
        tm.tm_mon = Int32(mo - 1)
        tm.tm_mday = Int32(d)
        tm.tm_hour = Int32(h)
        tm.tm_min = Int32(mi)
        tm.tm_sec = Int32(s)
        return Date(timeIntervalSince1970: TimeInterval(timegm(&tm)))
    }

    /// `v` in decimal, zero-padded to `width` digits.
    static func pad(_ v: Int32, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    private static func parts(_ date: Date) -> (year: Int32, month: Int32, day: Int32, hour: Int32, minute: Int32, second: Int32) {
        var secs = time_t(floor(date.timeIntervalSince1970))
        var tm = Glibc.tm()
        gmtime_r(&secs, &tm)
        return (tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec)
    }
}
