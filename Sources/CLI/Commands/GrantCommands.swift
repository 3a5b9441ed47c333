import ArgumentParser
import Daemon
import Foundation
import S3

struct GrantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grant", abstract: "Mint short-lived S3 credentials for one bucket.",
        discussion: """
        --perms is a comma-separated subset of read, write, list, delete; --ttl is 30m, 1h, 24h or 7d (grants are never permanent). With --json the envelope goes to stdout; otherwise a summary goes to stderr and four shell-ready lines to stdout. The secret is shown only here.

        Examples:
          garagetytus bucket grant photos --to "resizer" --perms read,write --ttl 1h --json
          eval "$(garagetytus bucket grant photos --to ci --perms read,list --ttl 30m 2>/dev/null | sed 's/^/export /')"
        """)
    @Argument(help: "Bucket name.") var bucket: String
    @Option(help: "Who the grant is for (shown in listings and the audit log).") var to: String
    @Option(help: "read,write,list,delete (any subset).") var perms: String
    @Option(help: "30m, 1h, 24h or 7d.") var ttl: String
    @OptionGroup var output: JSONOption

    func run() async throws {
        try await CLIRunner.run {
            _ = try GrantSpec(bucket: bucket, label: to, perms: perms, ttl: ttl)
            let g = try ControlClient.current().json("POST", "/v1/grants", body: ["bucket": bucket, "to": to, "perms": perms, "ttl": ttl],
                                                     as: GrantEnvelope.self)
            if output.json { CLIRunner.printJSON(g); return }
            FileHandle.standardError.write(Data("minted grant \(g.grantID) for \(to) on bucket \(bucket) (\(perms)), expires \(g.expiresAt)\nthe secret is not shown again; revoke with: garagetytus bucket revoke \(g.grantID)\n".utf8))
            print("AWS_ACCESS_KEY_ID=\(g.accessKey)\nAWS_SECRET_ACCESS_KEY=\(g.secretKey)\nAWS_ENDPOINT_URL=\(g.endpointURL)\nGRANT_EXPIRES_AT=\(g.expiresAt)")
        }
    }
}

struct GrantsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grants", abstract: "List grants (all, or one bucket's) with their state.",
        discussion: "Examples:\n  garagetytus bucket grants\n  garagetytus bucket grants photos --json")
    @Argument(help: "Bucket name (optional).") var bucket: String?
    @OptionGroup var output: JSONOption

    func run() async throws {
        try await CLIRunner.run {
            if let bucket { try BucketSpec.checkName(bucket) }
            let path = "/v1/grants" + (bucket.map { "?bucket=\(SigV4.uriEncode($0))" } ?? "")
            let all = try ControlClient.current().json("GET", path, as: [GrantInfo].self)
            if output.json { CLIRunner.printJSON(all); return }
            if all.isEmpty { print("no grants"); return }
            let rows = [["GRANT", "BUCKET", "TO", "PERMS", "EXPIRES", "STATE"]] + all.map {
                [$0.grantID, $0.bucket, $0.label, $0.permissions, $0.expiresAt, $0.state + ($0.cleanupPending ? " (cleanup pending)" : "")]
            }
            print(Human.table(rows))
        }
    }
}

struct RevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke", abstract: "Revoke a grant: refused from the next request on, presigned URLs included.",
        discussion: "Examples:\n  garagetytus bucket revoke g_20261123_1a2b3c4d")
    @Argument(help: "Grant id (g_<yyyymmdd>_<8 hex>).") var grantID: String
    @OptionGroup var output: JSONOption

    func run() async throws {
        try await CLIRunner.run {
            guard GrantSpec.isGrantID(grantID) else {
                throw DaemonError(.usage, "invalid grant id \"\(grantID.prefix(40))\"", fix: "grant ids look like g_20261123_1a2b3c4d (see `garagetytus bucket grants`)")
            }
            let g = try ControlClient.current().json("POST", "/v1/grants/\(grantID)/revoke", as: GrantInfo.self)
            if output.json { CLIRunner.printJSON(g); return }
            print(g.cleanupPending ? "revoked \(g.grantID): refused from now on; backend cleanup is pending and retried every 60 s"
                                   : "revoked \(g.grantID): refused from now on")
        }
    }
}

/// Human-readable sizes and tables for the CLI.
enum Human {
    static func bytes(_ n: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(n), i = 0
        while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
        return i == 0 ? "\(n) B" : String(format: "%.1f", v) + " " + units[i]
    }

    static func table(_ rows: [[String]]) -> String {
        let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { r in r.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
            .trimmingCharacters(in: .whitespaces) }.joined(separator: "\n")
    }
}
