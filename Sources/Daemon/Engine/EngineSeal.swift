import Credentials
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What the engine's directory holds besides its data, so that only the daemon can use it (ADR 0003):
/// SeaweedFS's `security.toml` (the filer's HTTP API, reachable from the host through its Unix
/// socket, answers only requests carrying a JWT signed with a key the engine and the daemon alone
/// know, fresh at every start; the admin UI off). (A sealed engine's /tmp is a tmpfs of its own.)
enum EngineSeal {
    /// `sun_path` is 108 bytes on Linux, with its terminating NUL.
    static let maxSocketPath = 107

    /// The filer's signing keys of one engine start (kept in the daemon's memory only).
    struct FilerKeys: Sendable {
        var read: String
        var write: String
    }

    /// Writes a fresh `security.toml`; returns the filer's new signing keys.
    static func prepare(paths: Paths) throws -> FilerKeys {
        let socket = SeaweedEngine.s3SocketPath(paths)
        guard socket.utf8.count <= maxSocketPath else {
            throw DaemonError(.usage, "the engine's socket path \(socket) is longer than a Unix socket allows (\(maxSocketPath) bytes)",
                              fix: "use a shorter GARAGETYTUS_HOME / XDG_DATA_HOME")
        }
        let keys = FilerKeys(read: randomKey(), write: randomKey())
        do {
            try SecretFile.write(Data(securityConfig(filerKey: keys.write, filerReadKey: keys.read).utf8), to: securityFile(paths))
            return keys
        } catch {
            throw DaemonError(.environment, "cannot write \(securityFile(paths)): \(error)", fix: "check the permissions of \(paths.engineDir)")
        }
    }

    /// Where `weed` reads it: `-config_dir` is the engine directory.
    static func securityFile(_ paths: Paths) -> String { paths.engineDir + "/security.toml" }

    static func securityConfig(filerKey: String, filerReadKey: String) -> String {
        """
        # Written by garagetytus at every engine start; do not edit.
        [jwt.filer_signing]
        key = "\(filerKey)"
        expires_after_seconds = 60

        [jwt.filer_signing.read]
        key = "\(filerReadKey)"
        expires_after_seconds = 60

        [access]
        ui = false

        """
    }

    static func randomKey() -> String {
        var rng = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &rng)) }.joined()
    }
}
