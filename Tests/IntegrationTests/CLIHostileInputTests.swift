import Daemon
import Foundation
import Testing
import TestSupport

/// Every value-taking flag and name of the CLI with an empty, a huge (64 KiB) and a malformed
/// value: refused with one line that does not echo the whole value, a non-zero exit, and nothing
/// changed; corrupt files are refused with their name and left as they are.
@Suite struct CLIHostileInputTests {
    static let huge = String(repeating: "x", count: 65_536)
    static let values = ["", huge, "-1\n;\u{7}x"]

    /// Command lines with `V` where the hostile value goes; `garagetytus` unless it starts with "artifacts".
    static func commands(gateway: String, dir: String) -> [[String]] {
        [
            ["bucket", "create", "V", "--ttl", "24h", "--quota", "1G"],
            ["bucket", "create", "b1", "--ttl", "V", "--quota", "1G"],
            ["bucket", "create", "b1", "--ttl", "24h", "--quota", "V"],
            ["bucket", "grant", "V", "--to", "t", "--perms", "read", "--ttl", "1h"],
            ["bucket", "grant", "kept", "--to", "V", "--perms", "read", "--ttl", "1h"],
            ["bucket", "grant", "kept", "--to", "t", "--perms", "V", "--ttl", "1h"],
            ["bucket", "grant", "kept", "--to", "t", "--perms", "read", "--ttl", "V"],
            ["bucket", "deny-all", "V", "--ttl", "1h"], ["bucket", "deny-all", "kept", "--ttl", "V"],
            ["bucket", "allow", "V"], ["bucket", "info", "V"], ["bucket", "expire", "V"], ["bucket", "revoke", "V"],
            ["bucket", "grants", "V"],
            ["start", "--timeout", "V"], ["stop", "--timeout", "V"], ["restart", "--timeout", "V"],
            ["mount", "--endpoint", "V", "--bucket", "kept", dir],
            ["mount", "--endpoint", gateway, "--bucket", "V", dir],
            ["mount", "--endpoint", gateway, "--bucket", "kept", "--credentials-file", "V", dir],
            ["mount", "--endpoint", gateway, "--bucket", "kept", "--metadata-ttl", "V", dir],
            ["mount", "--endpoint", gateway, "--bucket", "kept", "--file-mode", "V", dir],
            ["mount", "--endpoint", gateway, "--bucket", "kept", "--dir-mode", "V", dir],
            ["mount", "--endpoint", gateway, "--bucket", "kept", "--uid", "V", dir],
            ["mount", "--endpoint", gateway, "--bucket", "kept", "--timeout", "V", dir],
            ["mount", "--endpoint", gateway, "--bucket", "kept", "--io-timeout", "V", dir],
            ["mount", "--endpoint", gateway, "--bucket", "kept", "--region", "V", dir],
            ["mount", "--endpoint", gateway, "--bucket", "kept", "V"],
            ["mount", "--endpoint", gateway, "--bucket", "kept", "--gid", "V", dir],
            ["mount", "--endpoint", gateway, "--bucket", "kept", "--cache-dir", "V", dir],
            ["unmount", "V"],
            ["artifacts", "workspace", "create", "V", "--ttl", "24h", "--quota", "1G"],
            ["artifacts", "workspace", "create", "w1", "--ttl", "V", "--quota", "1G"],
            ["artifacts", "workspace", "create", "w1", "--ttl", "24h", "--quota", "V"],
            ["artifacts", "workspace", "create", "w2", "--endpoint", "V", "--bucket", "kept", "--access-key-id", "a", "--secret-access-key", "s"],
            ["artifacts", "workspace", "create", "w2", "--endpoint", gateway, "--bucket", "V", "--access-key-id", "a", "--secret-access-key", "s"],
            ["artifacts", "workspace", "create", "w2", "--endpoint", gateway, "--bucket", "kept", "--access-key-id", "V", "--secret-access-key", "s"],
            ["artifacts", "workspace", "show", "V"], ["artifacts", "workspace", "delete", "V"], ["artifacts", "workspace", "rotate", "V"],
            ["artifacts", "storage", "set", "--workspace", "V", "--access-key-id", "a", "--secret-access-key", "s"],
            ["artifacts", "storage", "set", "--workspace", "ws", "--token", "V"],
            ["artifacts", "key", "create", "--workspace", "V", "--mode", "rw", "--ttl", "1h"],
            ["artifacts", "key", "create", "--workspace", "ws", "--mode", "V", "--ttl", "1h"],
            ["artifacts", "key", "create", "--workspace", "ws", "--mode", "rw", "--ttl", "V"],
            ["artifacts", "key", "create", "--workspace", "ws", "--mode", "rw", "--ttl", "1h", "--name", "V"],
            ["artifacts", "mount", "V", dir], ["artifacts", "mount", "ws", "V"],
            ["artifacts", "mount", "ws", dir, "--io-timeout", "V"], ["artifacts", "mount", "ws", dir, "--gid", "V"],
            ["artifacts", "workspace", "rotate", "ws", "--grace", "V"],
            ["artifacts", "workspace", "create", "w3", "--endpoint", gateway, "--bucket", "kept", "--region", "V", "--access-key-id", "a", "--secret-access-key", "s"],
            ["artifacts", "storage", "set", "--workspace", "ws", "--access-key-id", "V", "--secret-access-key", "s"],
            ["artifacts", "storage", "show", "--workspace", "V"], ["artifacts", "storage", "clear", "--workspace", "V"],
            ["artifacts", "key", "list", "--workspace", "V"], ["artifacts", "key", "revoke", "V"],
            ["artifacts", "stats", "ws", "--window", "V"], ["artifacts", "stats", "V"],
            ["artifacts", "--format", "V", "workspace", "list"],
        ]
    }

    /// `artifacts` with the harness's home.
    static func artifacts(_ h: DaemonHarness) -> ([String]) throws -> DaemonHarness.Result {
        let binary = DaemonHarness.locateBinary("artifacts")
        return { args in
            var env = ProcessInfo.processInfo.environment
            env["GARAGETYTUS_HOME"] = h.home
            return try DaemonHarness.runProcess(binary, args, env: env, timeout: 60)
        }
    }

    /// `--prefix` takes "" (the whole bucket): only its huge and malformed values are refused.
    static func prefixCommands(gateway: String, dir: String) -> [[String]] {
        [["mount", "--endpoint", gateway, "--bucket", "kept", "--prefix", "V", dir],
         ["artifacts", "workspace", "create", "w4", "--endpoint", gateway, "--bucket", "kept", "--prefix", "V", "--access-key-id", "a", "--secret-access-key", "s"]]
    }

    /// What bad input must not change: buckets, grants, workspaces, mounts.
    static func snapshot(_ h: DaemonHarness, _ artifacts: (([String]) throws -> DaemonHarness.Result)) throws -> String {
        try [h.run(["bucket", "list", "--json"]).stdout, h.run(["bucket", "grants", "--json"]).stdout,
             artifacts(["--format", "json", "workspace", "list"]).stdout,
             (try? FileManager.default.contentsOfDirectory(atPath: h.paths.dataDir + "/mounts"))?.sorted().joined() ?? ""].joined(separator: "\n")
    }

    @Test func everyFlagWithAnEmptyHugeOrMalformedValueIsRefusedInOneLineAndChangesNothing() throws {
        let h = try DaemonHarness(name: "cliz")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("kept")
        let artifacts = Self.artifacts(h)
        #expect(try artifacts(["workspace", "create", "ws", "--ttl", "24h", "--quota", "1G"]).status == 0)
        let dir = h.home + "/mnt"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let before = try Self.snapshot(h, artifacts)

        var accepted: [String] = []
        let cases = Self.commands(gateway: h.gatewayURL, dir: dir).flatMap { c in Self.values.map { (c, $0) } }
            + Self.prefixCommands(gateway: h.gatewayURL, dir: dir).flatMap { c in Self.values.dropFirst().map { (c, $0) } }
        for (command, value) in cases {
            do {
                let args = command.map { $0 == "V" ? value : $0 }
                let shown = command.map { $0 == "V" ? (value == Self.huge ? "<64 KiB>" : value.debugDescription) : $0 }.joined(separator: " ")
                let r = args[0] == "artifacts" ? try artifacts(Array(args.dropFirst())) : try h.run(args)
                let lines = r.stderr.split(separator: "\n")
                if r.status == 0 { accepted.append(shown); continue }
                #expect(lines.count == 1 && lines[0].hasPrefix("error: ") && lines[0].count < 600,
                        "\(shown): \(r.stderr.prefix(600))")
            }
        }
        #expect(accepted.isEmpty, "accepted: \(accepted)")
        #expect(try Self.snapshot(h, artifacts) == before)
        #expect(try h.run(["healthz"]).status == 0)
    }

    @Test func corruptCredentialsAndMountRegistryFilesAreRefusedWithTheirNameAndLeftAlone() throws {
        let h = try DaemonHarness(name: "clic")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        let artifacts = Self.artifacts(h)
        #expect(try artifacts(["workspace", "create", "ws", "--ttl", "24h", "--quota", "1G"]).status == 0)

        // A mount registry record that is not one.
        let registry = h.paths.dataDir + "/mounts/tmp-nowhere.json"
        try FileManager.default.createDirectory(atPath: h.paths.dataDir + "/mounts", withIntermediateDirectories: true)
        try Data("{\"pid\": \"oops\"".utf8).write(to: URL(fileURLWithPath: registry))
        for args in [["workspace", "list"], ["status"]] {
            let r = try artifacts(args)
            #expect(r.status != 0 && r.stderr.contains(registry) && r.stderr.split(separator: "\n").count == 1, "\(args): \(r.stderr)")
        }
        #expect(try String(contentsOfFile: registry, encoding: .utf8) == "{\"pid\": \"oops\"")
        unlink(registry)

        // The workspace's cached credentials, garbled.
        let name = try #require(try FileManager.default.subpathsOfDirectory(atPath: h.paths.configDir + "/workspaces")
            .first { $0.contains("ws") && $0.contains("cred") })
        let creds = h.paths.configDir + "/workspaces/" + name
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: creds))
        let mnt = h.home + "/mnt"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        let r = try artifacts(["mount", "ws", mnt])
        #expect(r.status != 0 && r.stderr.contains(creds) && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(try String(contentsOfFile: creds, encoding: .utf8) == "garbage")
        #expect(try FileManager.default.contentsOfDirectory(atPath: mnt).isEmpty)
    }
}
