import Foundation

/// The grammar of `bucket create NAME --ttl … --quota …` (seed workflow B), validated before
/// anything is created. `permanent` and `unlimited` need an explicit confirmation.
public struct BucketSpec: Sendable, Equatable {
    public enum TTL: Sendable, Equatable, CustomStringConvertible {
        case seconds(Int)
        case permanent

        public var description: String {
            switch self {
            case .permanent: return "permanent"
            case .seconds(let s): return ["1800": "30m", "3600": "1h", "86400": "24h", "604800": "7d"]["\(s)"] ?? "\(s)s"
            }
        }
    }

    public enum Quota: Sendable, Equatable, CustomStringConvertible {
        case bytes(Int64)
        case unlimited

        public var description: String {
            switch self {
            case .unlimited: return "unlimited"
            case .bytes(let b): return BucketSpec.sizeText(b)
            }
        }
    }

    public var name: String
    public var ttl: TTL
    public var quota: Quota

    /// Validates all three; `confirmed` is `--confirm-yes-really`.
    public init(name: String, ttl: String, quota: String, confirmed: Bool) throws {
        try Self.checkName(name)
        let t = try Self.parseTTL(ttl)
        let q = try Self.parseQuota(quota)
        if !confirmed && (t == .permanent || q == .unlimited) {
            let kind = [t == .permanent ? "permanent" : nil, q == .unlimited ? "unlimited" : nil].compactMap { $0 }.joined(separator: ", ")
            throw DaemonError(.usage, "\(kind.hasPrefix("u") ? "an" : "a") \(kind) bucket needs confirmation",
                              fix: "add --confirm-yes-really")
        }
        self.name = name
        self.ttl = t
        self.quota = q
    }

    /// 3–63 characters of `[a-z0-9.-]`, a letter or digit at both ends, no `..`, not an IPv4 address.
    public static func checkName(_ name: String) throws {
        let ok = name.utf8.count >= 3 && name.utf8.count <= 63
            && name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 46 || $0 == 45 }
            && name.first.map { $0.isLetter || $0.isNumber } == true && name.last.map { $0.isLetter || $0.isNumber } == true
            && !name.contains("..")
        guard ok else {
            throw DaemonError(.usage, "invalid bucket name \"\(name.prefix(80))\"",
                              fix: "use 3–63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit, without '..'")
        }
        let octets = name.split(separator: ".", omittingEmptySubsequences: false)
        if octets.count == 4 && octets.allSatisfy({ UInt8($0) != nil }) {
            throw DaemonError(.usage, "invalid bucket name \"\(name)\": it looks like an IPv4 address", fix: "choose a name that is not an IP address")
        }
    }

    /// Exactly `30m`, `1h`, `24h`, `7d` or `permanent` (the seed's grammar: `1d` or `60m` are refused).
    public static func parseTTL(_ text: String) throws -> TTL {
        let allowed = ["30m": 1800, "1h": 3600, "24h": 86400, "7d": 604_800]
        if text == "permanent" { return .permanent }
        guard let seconds = allowed[text] else {
            throw DaemonError(.usage, "invalid TTL \"\(text.prefix(40))\"", fix: "use one of 30m, 1h, 24h, 7d or permanent")
        }
        return .seconds(seconds)
    }

    /// `<n>` bytes or `<n>K|M|G|T` (binary units), or `unlimited`.
    public static func parseQuota(_ text: String) throws -> Quota {
        if text == "unlimited" { return .unlimited }
        let units: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = Substring(text), factor: Int64 = 1
        if let u = text.last, let f = units[u] { digits = text.dropLast(); factor = f }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int64(digits), n > 0,
              n <= Int64.max / factor else {
            throw DaemonError(.usage, "invalid quota \"\(text.prefix(40))\"", fix: "use a size like 500M, 10G or 1T (binary units), or unlimited")
        }
        return .bytes(n * factor)
    }

    static func sizeText(_ b: Int64) -> String {
        for (u, f) in [("T", Int64(1) << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)] where b % f == 0 { return "\(b / f)\(u)" }
        return "\(b)"
    }
}
