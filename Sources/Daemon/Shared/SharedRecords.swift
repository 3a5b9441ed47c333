import Crypto
import Foundation
import S3

/// The shared objects' contents: one JSON object per bucket, per grant and per claimed limit slot.
/// Times are Unix seconds; a grant's secret is sealed (`SecretSeal`), so the objects can be read
/// by whoever can read the state bucket without giving them a usable grant.
struct SharedBucket: Codable, Equatable {
    var name: String
    var createdAt: Double
    var expiresAt: Double?
    var ttl: String
    var quotaBytes: Int64?
    var denyAllUntil: Double?
    /// New with every write: a writer that finds its very bytes stored knows the write was its own.
    var nonce = UUID().uuidString

    enum CodingKeys: String, CodingKey {
        case name, createdAt = "created_at", expiresAt = "expires_at", ttl, quotaBytes = "quota_bytes", denyAllUntil = "deny_all_until", nonce
    }

    init(_ b: BucketRecord) {
        name = b.name
        createdAt = b.createdAt.timeIntervalSince1970
        expiresAt = b.expiresAt?.timeIntervalSince1970
        ttl = b.ttl
        quotaBytes = b.quotaBytes
        denyAllUntil = b.denyAllUntil?.timeIntervalSince1970
    }

    var record: BucketRecord {
        BucketRecord(name: name, createdAt: Date(timeIntervalSince1970: createdAt), expiresAt: expiresAt.map(Date.init(timeIntervalSince1970:)),
                     ttl: ttl, quotaBytes: quotaBytes, denyAllUntil: denyAllUntil.map(Date.init(timeIntervalSince1970:)))
    }
}

struct SharedGrant: Codable, Equatable {
    var id: String
    var bucket: String
    var label: String
    var accessKey: String
    /// Base64 of AES-GCM's combined form; empty once the grant is revoked.
    var sealedSecret: String
    var permissions: String
    var createdAt: Double
    var expiresAt: Double
    var state: String
    var revokedAt: Double?
    /// As `SharedBucket.nonce`.
    var nonce = UUID().uuidString

    enum CodingKeys: String, CodingKey {
        case id, bucket, label, accessKey = "access_key", sealedSecret = "sealed_secret", permissions, createdAt = "created_at"
        case expiresAt = "expires_at", state, revokedAt = "revoked_at", nonce
    }

    init(_ g: GrantRecord, seal: SecretSeal) throws {
        id = g.id
        bucket = g.bucket
        label = g.label
        accessKey = g.accessKey
        sealedSecret = g.secretKey.isEmpty ? "" : try seal.seal(g.secretKey, for: g.id + "/" + g.accessKey)
        permissions = GrantSpec.permissionsText(g.permissions)
        createdAt = g.createdAt.timeIntervalSince1970
        expiresAt = g.expiresAt.timeIntervalSince1970
        state = g.state.rawValue
        revokedAt = g.revokedAt?.timeIntervalSince1970
    }

    /// The grant; a secret that does not open (another cluster's key, a changed object) leaves it
    /// without one, so no signature verifies with it.
    func record(seal: SecretSeal) -> GrantRecord {
        let perms = permissions.split(separator: ",").compactMap { S3Operation.Permission(rawValue: String($0)) }
        let secret = sealedSecret.isEmpty ? "" : (seal.open(sealedSecret, for: id + "/" + accessKey) ?? "")
        return GrantRecord(id: id, bucket: bucket, label: label, accessKey: accessKey, secretKey: secret, permissions: Set(perms),
                           createdAt: Date(timeIntervalSince1970: createdAt), expiresAt: Date(timeIntervalSince1970: expiresAt),
                           state: GrantView.State(rawValue: state) ?? .revoked, revokedAt: revokedAt.map(Date.init(timeIntervalSince1970:)),
                           cleanupPending: false)
    }
}

/// One slot of a cluster-wide limit (see `SharedState.claim`): who holds it and until when.
struct SlotClaim: Codable, Equatable {
    var grantID: String
    var claimedAt: Double
    var expiresAt: Double
    /// Tells a writer its own claim from another's when a retried create is answered 412.
    var nonce: String

    enum CodingKeys: String, CodingKey { case grantID = "grant_id", claimedAt = "claimed_at", expiresAt = "expires_at", nonce }
}

/// Grant secrets sealed with AES-GCM under a key derived (HKDF-SHA256) from the cluster's admin
/// secret, which every daemon of the cluster has; the grant's id and access key are the
/// authenticated data, so a sealed secret cannot be moved to another grant.
struct SecretSeal: Sendable {
    let key: SymmetricKey

    init(adminSecret: String) {
        key = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: Data(adminSecret.utf8)),
                                     salt: Data("garagetytus grant secrets".utf8), info: Data("v1".utf8), outputByteCount: 32)
    }

    func seal(_ secret: String, for context: String) throws -> String {
        let box = try AES.GCM.seal(Data(secret.utf8), using: key, authenticating: Data(context.utf8))
        guard let combined = box.combined else { throw DaemonError(.failed, "sealing a grant secret failed") }
        return combined.base64EncodedString()
    }

    func open(_ sealed: String, for context: String) -> String? {
        guard let data = Data(base64Encoded: sealed), let box = try? AES.GCM.SealedBox(combined: data),
              let plain = try? AES.GCM.open(box, using: key, authenticating: Data(context.utf8)) else { return nil }
        return String(data: plain, encoding: .utf8)
    }
}

enum SharedJSON {
    static func encode<T: Encodable>(_ value: T) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return try e.encode(value)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ data: Data) -> T? { try? JSONDecoder().decode(type, from: data) }
}
