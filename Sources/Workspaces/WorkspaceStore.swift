import Credentials
import Daemon
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A workspace: a bucket (or a prefix of one) on some S3 endpoint, with credentials cached for it.
/// `managed` ones live on the local daemon (bucket and grant made by it); `byo` ones point at any
/// S3 service with the user's own keys.
public struct WorkspaceRecord: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case managed, byo }
    public var name: String
    public var kind: Kind
    public var endpoint: String
    public var bucket: String
    public var region: String
    public var prefix: String
    public var createdAt: String
    /// Mounted read-only (a workspace set up from a `ro` service token).
    public var readOnly: Bool?

    public init(name: String, kind: Kind, endpoint: String, bucket: String, region: String, prefix: String, createdAt: String) {
        self.name = name
        self.kind = kind
        self.endpoint = endpoint
        self.bucket = bucket
        self.region = region
        self.prefix = prefix
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey { case name, kind, endpoint, bucket, region, prefix, createdAt = "created_at", readOnly = "read_only" }
}

/// A service token handed out for a workspace on your own S3: tracked so `key list` shows it
/// (the token itself, and its secret, are not kept).
public struct IssuedKey: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var mode: String
    /// Masked: the token carries this access key.
    public var accessKey: String
    public var expiresAt: String
    public var createdAt: String

    public init(id: String, name: String, mode: String, accessKey: String, expiresAt: String, createdAt: String) {
        (self.id, self.name, self.mode, self.accessKey, self.expiresAt, self.createdAt) = (id, name, mode, accessKey, expiresAt, createdAt)
    }

    enum CodingKeys: String, CodingKey {
        case id, name, mode, accessKey = "access_key", expiresAt = "expires_at", createdAt = "created_at"
    }
}

/// The credentials cached for a workspace (0600, written atomically).
public struct CachedCredentials: Codable, Sendable, Equatable {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// RFC 3339 UTC, when known (managed grants).
    public var expiresAt: String?
    /// Where they came from: `grant g_…`, `storage set`, `token`.
    public var source: String
    public var grantID: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, expiresAt: String? = nil, source: String, grantID: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiresAt = expiresAt
        self.source = source
        self.grantID = grantID
    }

    enum CodingKeys: String, CodingKey {
        case accessKeyID = "access_key_id", secretAccessKey = "secret_access_key", sessionToken = "session_token"
        case expiresAt = "expires_at", source, grantID = "grant_id"
    }

    /// `GKAB***WXYZ`: enough to recognise a key, never enough to use it.
    public static func mask(_ key: String) -> String { KeyMask.mask(key) }
}

/// Why a workspace operation was refused; `usage` (bad input) or `corrupt` (a file we own).
public struct WorkspaceError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case usage, corrupt, notFound }
    public var kind: Kind
    public var message: String
    public var fix: String?
    public var description: String { fix.map { "\(message) — \($0)" } ?? message }
}

/// Workspaces and their credentials under `<config>/workspaces/` (0700): `NAME.json` and
/// `NAME.credentials.json`, both 0600 and written tmp + fsync + rename, refused when their
/// permissions are loose or another user owns them.
public struct WorkspaceStore: Sendable {
    public let directory: String

    public init(configDir: String) {
        directory = configDir + "/workspaces"
    }

    /// `[a-z0-9][a-z0-9-]{1,62}`.
    public static func checkName(_ name: String) throws {
        let b = Array(name.utf8)
        let ok = (2...63).contains(b.count) && (b[0] >= 97 && b[0] <= 122 || b[0] >= 48 && b[0] <= 57)
            && b.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
        guard ok else {
            throw WorkspaceError(kind: .usage, message: "invalid workspace name \"\(String(name.prefix(70)).filter { !$0.isNewline })\"",
                                 fix: "use 2–63 characters of a-z, 0-9 and '-', starting with a letter or digit")
        }
    }

    public func recordPath(_ name: String) -> String { "\(directory)/\(name).json" }
    public func credentialsPath(_ name: String) -> String { "\(directory)/\(name).credentials.json" }
    public func keysPath(_ name: String) -> String { "\(directory)/\(name).keys.json" }

    public func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: recordPath(name)) }

    public func load(_ name: String) throws -> WorkspaceRecord {
        try Self.checkName(name)
        let path = recordPath(name)
        guard FileManager.default.fileExists(atPath: path) else {
            throw WorkspaceError(kind: .notFound, message: "no workspace named \"\(name)\"", fix: "see `artifacts workspace list`, or create it with `artifacts workspace create \(name)`")
        }
        let data = try readPrivate(path)
        guard let record = try? JSONDecoder().decode(WorkspaceRecord.self, from: data), record.name == name else {
            throw WorkspaceError(kind: .corrupt, message: "workspace file \(path) is not a valid workspace record; it was left as it is",
                                 fix: "move it aside and create the workspace again")
        }
        return record
    }

    public func list() throws -> [WorkspaceRecord] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        // A record is `<name>.json`; a workspace's other files (`<name>.credentials.json`,
        // `<name>.keys.json`) have a second dot, which no workspace name has.
        return try names.filter { $0.hasSuffix(".json") && !$0.dropLast(5).contains(".") }.sorted()
            .map { try load(String($0.dropLast(5))) }
    }

    public func save(_ record: WorkspaceRecord) throws {
        try SecretFile.ensurePrivateDirectory(directory)
        try SecretFile.write(try Self.encoder.encode(record), to: recordPath(record.name))
    }

    public func loadCredentials(_ name: String) throws -> CachedCredentials? {
        let path = credentialsPath(name)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let data = try readPrivate(path)
        guard let c = try? JSONDecoder().decode(CachedCredentials.self, from: data), !c.accessKeyID.isEmpty, !c.secretAccessKey.isEmpty else {
            throw WorkspaceError(kind: .corrupt, message: "credentials file \(path) is not valid; it was left as it is",
                                 fix: "run `artifacts storage set --workspace \(name) …` to replace it, or `artifacts storage clear --workspace \(name)`")
        }
        return c
    }

    public func saveCredentials(_ name: String, _ c: CachedCredentials) throws {
        try SecretFile.ensurePrivateDirectory(directory)
        try SecretFile.write(try Self.encoder.encode(c), to: credentialsPath(name))
    }

    public func clearCredentials(_ name: String) { unlink(credentialsPath(name)) }

    /// The service tokens handed out for a workspace on your own S3.
    public func issuedKeys(_ name: String) throws -> [IssuedKey] {
        let path = keysPath(name)
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        guard let keys = try? JSONDecoder().decode([IssuedKey].self, from: try readPrivate(path)) else {
            throw WorkspaceError(kind: .corrupt, message: "service token list \(path) is not valid; it was left as it is",
                                 fix: "move it aside (the tokens keep working until they expire)")
        }
        return keys
    }

    public func recordIssuedKey(_ name: String, _ key: IssuedKey) throws {
        let keys = try issuedKeys(name) + [key]
        try SecretFile.ensurePrivateDirectory(directory)
        try SecretFile.write(try Self.encoder.encode(keys), to: keysPath(name))
    }

    public func delete(_ name: String) {
        unlink(keysPath(name))
        unlink(credentialsPath(name))
        unlink(recordPath(name))
        AtomicFile.syncDirectory(directory)
    }

    private func readPrivate(_ path: String) throws -> Data {
        do {
            return try SecretFile.read(path)
        } catch let e as SecretFileError {
            throw WorkspaceError(kind: .corrupt, message: "\(e.path) \(e.problem)", fix: "chown $(id -u) '\(path)' && chmod 600 '\(path)'")
        } catch {
            throw WorkspaceError(kind: .corrupt, message: "cannot read \(path): \(error)")
        }
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return e
    }()
}

/// The daemon writes renewed grants of managed workspaces into this store.
extension WorkspaceStore: WorkspaceCaches {
    public func checkWorkspaceName(_ name: String) throws {
        do { try Self.checkName(name) } catch let e as WorkspaceError { throw DaemonError(.usage, e.message, fix: e.fix) }
    }

    public func cachedGrantID(_ name: String) throws -> String?? {
        try loadCredentials(name).map(\.grantID)
    }

    public func saveRenewedGrant(_ name: String, _ g: GrantEnvelope, source: String) throws {
        try saveCredentials(name, CachedCredentials(accessKeyID: g.accessKey, secretAccessKey: g.secretKey, expiresAt: g.expiresAt,
                                                    source: source, grantID: g.grantID))
    }
}
