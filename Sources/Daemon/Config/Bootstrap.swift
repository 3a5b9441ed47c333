import Credentials
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Creates (idempotently) the directories, `garagetytus.toml` and the engine identity.
public enum Bootstrap {
    public struct Report: Codable, Sendable {
        public var configDir: String
        public var dataDir: String
        public var logDir: String
        public var configFile: String
        public var identityFile: String
        /// Paths created by this run (empty when everything existed).
        public var created: [String]

        enum CodingKeys: String, CodingKey {
            case configDir = "config_dir", dataDir = "data_dir", logDir = "log_dir"
            case configFile = "config_file", identityFile = "identity_file", created
        }
    }

    /// Makes sure everything exists. Existing files are validated, never overwritten.
    @discardableResult
    public static func run(paths: Paths) throws -> Report {
        var created: [String] = []
        for dir in [paths.configDir, paths.dataDir, paths.logDir, paths.engineDir] {
            let existed = FileManager.default.fileExists(atPath: dir)
            do {
                try SecretFile.ensurePrivateDirectory(dir)
            } catch {
                throw DaemonError(.environment, "cannot create directory \(dir): \(error)",
                                  fix: "make its parent writable for this user or set GARAGETYTUS_HOME to a writable directory")
            }
            guard access(dir, W_OK) == 0 else {
                throw DaemonError(.environment, "directory \(dir) is not writable", fix: "fix its permissions or set GARAGETYTUS_HOME to a writable directory")
            }
            if !existed { created.append(dir) }
        }
        if FileManager.default.fileExists(atPath: paths.configFile) {
            _ = try loadConfig(paths: paths)
        } else {
            try writeFile(Config().render(), to: paths.configFile, mode: 0o644)
            created.append(paths.configFile)
        }
        if FileManager.default.fileExists(atPath: paths.identityFile) {
            _ = try EngineIdentity.load(from: paths.identityFile)
        } else {
            do {
                try EngineIdentity.generate().save(to: paths.identityFile)
            } catch {
                throw DaemonError(.environment, "cannot write \(paths.identityFile): \(error)", fix: "check the directory's permissions")
            }
            created.append(paths.identityFile)
        }
        return Report(configDir: paths.configDir, dataDir: paths.dataDir, logDir: paths.logDir,
                      configFile: paths.configFile, identityFile: paths.identityFile, created: created)
    }

    /// Reads and validates `garagetytus.toml`.
    public static func loadConfig(paths: Paths) throws -> Config {
        guard let data = FileManager.default.contents(atPath: paths.configFile) else {
            throw DaemonError(.corrupt, "cannot read \(paths.configFile)", fix: "run `garagetytus bootstrap`")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DaemonError(.corrupt, "\(paths.configFile) is not UTF-8 text", fix: "fix it or delete it and run `garagetytus bootstrap`")
        }
        return try Config.parse(text, file: paths.configFile)
    }

    private static func writeFile(_ text: String, to path: String, mode: mode_t) throws {
        do {
            try AtomicFile.write(text, to: path, mode: mode)
        } catch {
            throw DaemonError(.environment, "cannot write \(path): \(error)", fix: "check the directory's permissions")
        }
    }
}
