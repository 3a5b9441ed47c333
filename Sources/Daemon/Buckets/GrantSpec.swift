import Foundation
import S3

/// The grammar of `bucket grant BUCKET --to LABEL --perms … --ttl …` (seed workflow C), validated
/// before anything is minted. Grants take the bucket TTL grammar without `permanent`.
public struct GrantSpec: Sendable, Equatable {
    public var bucket: String
    public var label: String
    public var permissions: Set<S3Operation.Permission>
    public var ttlSeconds: Int

    public init(bucket: String, label: String, perms: String, ttl: String) throws {
        try BucketSpec.checkName(bucket)
        self.bucket = bucket
        self.label = try Self.checkLabel(label)
        self.permissions = try Self.parsePermissions(perms)
        guard case .seconds(let s) = try BucketSpec.parseTTL(ttl) else {
            throw DaemonError(.usage, "a grant cannot be permanent", fix: "use one of 30m, 1h, 24h or 7d")
        }
        self.ttlSeconds = s
    }

    /// 1–64 printable ASCII characters (it is shown in listings and written to the audit log).
    public static func checkLabel(_ label: String) throws -> String {
        guard !label.isEmpty, label.utf8.count <= 64, label.utf8.allSatisfy({ $0 >= 32 && $0 < 127 }) else {
            throw DaemonError(.usage, "invalid --to label \"\(String(label.prefix(40)).filter { $0.isASCII && !$0.isNewline })\"",
                              fix: "name the app or person with 1–64 printable ASCII characters")
        }
        return label
    }

    /// A comma-separated subset of read, write, list, delete; duplicates and blanks are refused.
    public static func parsePermissions(_ text: String) throws -> Set<S3Operation.Permission> {
        var out: Set<S3Operation.Permission> = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let p = S3Operation.Permission(rawValue: String(part)), !out.contains(p) else {
                throw DaemonError(.usage, "invalid --perms \"\(text.prefix(60))\"",
                                  fix: "use a comma-separated list of read, write, list, delete (e.g. read,list)")
            }
            out.insert(p)
        }
        return out
    }

    /// `g_<yyyymmdd>_<8 hex>`, as `Registry.mint` makes them.
    public static func isGrantID(_ id: String) -> Bool {
        id.range(of: #"^g_[0-9]{8}_[0-9a-f]{8}$"#, options: .regularExpression) != nil
    }

    public static func permissionsText(_ p: Set<S3Operation.Permission>) -> String {
        p.sorted().map(\.rawValue).joined(separator: ",")
    }
}
