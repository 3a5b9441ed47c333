import Credentials
import Daemon
import Foundation
import Workspaces
import S3
import Testing
import TestSupport

/// After a full scenario no secret appears anywhere but the two 0600 stores that must hold them
/// (the state DB, for signature checks, and the workspace credential cache).
@Suite struct SecretLeakTests {
    @Test func noSecretInLogsAuditMetricsStatsConfigStatusOrArgv() throws {
        let h = try DaemonHarness(name: "leak")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        let artifacts = DaemonHarness.locateBinary("artifacts")
        var env = ProcessInfo.processInfo.environment
        env["GARAGETYTUS_HOME"] = h.home
        func art(_ args: [String]) throws -> DaemonHarness.Result { try DaemonHarness.runProcess(artifacts, args, env: env, timeout: 90) }

        // The scenario: a grant used and refused, a managed workspace mounted, rotated, a token.
        try h.createBucket("leaky")
        let g = try h.mintGrant("leaky")
        let file = h.home + "/f.txt"
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try h.aws(g, ["s3", "cp", file, "s3://leaky/f.txt", "--only-show-errors"]).status == 0)
        var wrong = g
        wrong.secretKey = (g.secretKey.first == "0" ? "1" : "0") + g.secretKey.dropFirst()  // surely another secret
        #expect(try h.aws(wrong, ["s3", "ls", "s3://leaky/"]).status != 0)  // a refused request is audited
        #expect(try art(["workspace", "create", "ws", "--ttl", "24h", "--quota", "1G"]).status == 0)
        let mnt = h.home + "/mnt"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        defer { _ = try? art(["unmount", mnt]) }
        #expect(try art(["mount", "ws", mnt]).status == 0)
        #expect(FileManager.default.createFile(atPath: mnt + "/a", contents: Data("a".utf8)))
        #expect(try art(["workspace", "rotate", "ws", "--grace", "0"]).status == 0)
        let token = try art(["key", "create", "--workspace", "ws", "--mode", "ro", "--ttl", "1h"]).stdout
        let store = WorkspaceStore(configDir: h.paths.configDir)
        let cached = try #require(try store.loadCredentials("ws"))
        let identity = try EngineIdentity.load(from: h.paths.identityFile)
        let secrets = [g.secretKey, cached.secretAccessKey, identity.secretAccessKey, try ServiceToken.decode(token).secretAccessKey]

        // Everything a person or a collector can read.
        var places: [(String, String)] = []
        let allowed: Set<String> = [h.paths.stateDB, h.paths.stateDB + "-wal", h.paths.stateDB + "-shm", h.paths.identityFile,
                                    h.paths.engineConfigFile, store.credentialsPath("ws")]
        if let walk = FileManager.default.enumerator(atPath: h.home) {
            for case let rel as String in walk {
                let path = h.home + "/" + rel
                var st = stat()
                guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG, !allowed.contains(path), !path.contains("/engine/"),
                      let data = FileManager.default.contents(atPath: path) else { continue }
                places.append((path, String(decoding: data, as: UTF8.self)))
            }
        }
        places.append(("metrics", try #require(h.metrics())))
        // Read for real (a failed read must fail the test, not pass as an empty text).
        let stats = try String(contentsOfFile: mnt + "/.stats", encoding: .utf8), config = try String(contentsOfFile: mnt + "/.config", encoding: .utf8)
        #expect(stats.contains("garagetytus_fuse_ops_total") && config.contains("\"access_key_id\""), "\(stats.prefix(200)) \(config)")
        places.append((".stats", stats))
        places.append((".config", config))
        places.append(("status --json", try h.run(["status", "--json"]).stdout))
        places.append(("workspace list", try art(["--format", "json", "workspace", "list"]).stdout))
        places.append(("bucket grants", try h.run(["bucket", "grants", "--json"]).stdout))
        for pidDir in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int(pidDir) != nil {
            if let cmd = FileManager.default.contents(atPath: "/proc/\(pidDir)/cmdline") {
                places.append(("argv of \(pidDir)", String(decoding: cmd, as: UTF8.self)))
            }
        }
        #expect(places.count > 10)
        for (place, text) in places {
            for s in secrets { #expect(!text.contains(s), "a secret appears in \(place)") }
        }
        // The stores that do hold them are 0600.
        for path in allowed where FileManager.default.fileExists(atPath: path) {
            var st = stat()
            #expect(stat(path, &st) == 0 && st.st_mode & 0o077 == 0, "\(path)")
        }
    }
}
