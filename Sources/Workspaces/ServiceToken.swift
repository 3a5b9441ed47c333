import Foundation

/// A service token: everything a fresh host needs to mount a workspace — its name, endpoint,
/// bucket, prefix, region, keys, mode and expiry — as one opaque string (`gtk1.` + base64url JSON).
/// It is a secret: whoever holds it can use the keys until they expire or are revoked.
public struct ServiceToken: Codable, Sendable, Equatable {
    public static let prefix = "gtk1."
    public var workspace: String
    public var endpoint: String
    public var bucket: String
    public var region: String
    public var keyPrefix: String
    public var accessKeyID: String
    public var secretAccessKey: String
    /// `rw` or `ro`.
    public var mode: String
    public var expiresAt: String
    public var grantID: String?

    public init(workspace: String, endpoint: String, bucket: String, region: String, keyPrefix: String, accessKeyID: String,
                secretAccessKey: String, mode: String, expiresAt: String, grantID: String?) {
        self.workspace = workspace
        self.endpoint = endpoint
        self.bucket = bucket
        self.region = region
        self.keyPrefix = keyPrefix
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.mode = mode
        self.expiresAt = expiresAt
        self.grantID = grantID
    }

    enum CodingKeys: String, CodingKey {
        case workspace, endpoint, bucket, region, keyPrefix = "prefix", accessKeyID = "access_key_id", secretAccessKey = "secret_access_key"
        case mode, expiresAt = "expires_at", grantID = "grant_id"
    }

    public func encoded() -> String {
        let json = (try? JSONEncoder().encode(self)) ?? Data()
        return Self.prefix + json.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decode(_ text: String) throws -> ServiceToken {
        let bad = WorkspaceError(kind: .usage, message: "this is not a garagetytus service token", fix: "tokens start with \(prefix); create one with `artifacts key create`")
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard t.hasPrefix(prefix), t.utf8.count < 8192 else { throw bad }
        var b64 = String(t.dropFirst(prefix.count)).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b64.utf8.count % 4 != 0 { b64 += "=" }
        guard let data = Data(base64Encoded: b64), let token = try? JSONDecoder().decode(ServiceToken.self, from: data),
              (try? WorkspaceStore.checkName(token.workspace)) != nil, ["rw", "ro"].contains(token.mode),
              !token.accessKeyID.isEmpty, !token.secretAccessKey.isEmpty else { throw bad }
        return token
    }

    /// Whether it ran out at `now` (expires_at is RFC 3339 UTC).
    public func expired(at now: Date = Date()) -> Bool {
        let f = ISO8601DateFormatter()
        return f.date(from: expiresAt).map { $0 <= now } ?? true
    }

    public var record: WorkspaceRecord {
        var r = WorkspaceRecord(name: workspace, kind: .byo, endpoint: endpoint, bucket: bucket, region: region, prefix: keyPrefix, createdAt: "")
        r.readOnly = mode == "ro"
        return r
    }

    public var credentials: CachedCredentials {
        CachedCredentials(accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, expiresAt: expiresAt,
                          source: "token" + (grantID.map { " \($0)" } ?? ""), grantID: grantID)
    }
}
