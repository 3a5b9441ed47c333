/// ASCII string helpers for the request hot path. Foundation's `trimmingCharacters` and
/// `caseInsensitiveCompare` go through NSString and cost microseconds per call, which added up to
/// a third of the client's CPU on small requests.
enum ASCII {
    /// `s` without leading and trailing spaces, tabs, CR and LF.
    static func trim(_ s: Substring) -> String {
        let u = s.utf8
        var lo = u.startIndex, hi = u.endIndex
        while lo < hi, isSpace(u[lo]) { lo = u.index(after: lo) }
        while hi > lo, isSpace(u[u.index(before: hi)]) { hi = u.index(before: hi) }
        return String(decoding: u[lo..<hi], as: UTF8.self)
    }

    static func trim(_ s: String) -> String { trim(s[...]) }

    /// Equal ignoring ASCII case.
    static func equalsIgnoringCase(_ a: String, _ b: String) -> Bool {
        let x = a.utf8, y = b.utf8
        guard x.count == y.count else { return false }
        for (c, d) in zip(x, y) where c != d && lower(c) != lower(d) { return false }
        return true
    }

    private static func isSpace(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 13 || c == 10 }
    private static func lower(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c + 32 : c }
}
