import Credentials
import Foundation

/// The daemon's own S3 identity for the engine. Only the daemon knows it; without it SeaweedFS would
/// serve S3 anonymously. Stored 0600 in the config directory.
public struct EngineIdentity: Codable, Sendable, Equatable {
    public var accessKeyID: String
    public var secretAccessKey: String

    enum CodingKeys: String, CodingKey {
        case accessKeyID = "access_key_id"
        case secretAccessKey = "secret_access_key"
    }

    /// A fresh random identity.
    public static func generate() -> EngineIdentity {
        var rng = SystemRandomNumberGenerator()
        let upper = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        let alnum = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        let ak = "GTENGINE" + String((0..<12).map { _ in upper.randomElement(using: &rng)! })
        let sk = String((0..<40).map { _ in alnum.randomElement(using: &rng)! })
        return EngineIdentity(accessKeyID: ak, secretAccessKey: sk)
    }

    public static func load(from path: String) throws -> EngineIdentity {
        let data: Data
        do {
            data = try SecretFile.read(path)
        } catch let e as SecretFileError {
            throw DaemonError(.corrupt, "engine identity \(e.path) \(e.problem)", fix: "chmod 600 '\(path)' (and chown it to this user)")
        } catch {
            throw DaemonError(.corrupt, "cannot read engine identity \(path): \(error)", fix: "run `garagetytus bootstrap`")
        }
        do {
            let id = try JSONDecoder().decode(EngineIdentity.self, from: data)
            guard !id.accessKeyID.isEmpty, !id.secretAccessKey.isEmpty else { throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "empty")) }
            return id
        } catch {
            throw DaemonError(.corrupt, "engine identity \(path) is not valid JSON with access_key_id and secret_access_key",
                              fix: "restore it from a backup; deleting it makes the engine's existing data unreachable by the daemon")
        }
    }

    public func save(to path: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try SecretFile.write(try enc.encode(self), to: path)
    }
}
