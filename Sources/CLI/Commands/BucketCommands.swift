import ArgumentParser
import Daemon
import Foundation
import S3

/// `garagetytus bucket …`: buckets and grants of the running daemon (seed workflows B and C).
struct BucketCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bucket",
        abstract: "Create, inspect, lock and expire buckets; mint and revoke grants.",
        discussion: """
        Examples:
          garagetytus bucket create photos --ttl 24h --quota 10G
          garagetytus bucket grant photos --to "backup-job" --perms read,write,list --ttl 1h --json
          garagetytus bucket deny-all photos --ttl 1h      # emergency stop, presigned URLs included
          garagetytus bucket allow photos
          garagetytus bucket revoke g_20261123_1a2b3c4d
        """,
        subcommands: [BucketCreate.self, BucketList.self, BucketInfoCommand.self, BucketExpire.self, BucketDenyAll.self, BucketAllow.self,
                      GrantCommand.self, GrantsCommand.self, RevokeCommand.self])
}

extension ControlClient {
    static func current() throws -> ControlClient { ControlClient(paths: try CLIRunner.resolvePaths()) }
}


struct BucketCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a bucket with a TTL and a quota.",
        discussion: """
        --ttl is one of 30m, 1h, 24h, 7d, permanent; --quota is <n>[K|M|G|T] (binary units) or unlimited. permanent and unlimited need --confirm-yes-really.

        Examples:
          garagetytus bucket create scratch --ttl 24h --quota 1G
          garagetytus bucket create archive --ttl permanent --quota 100G --confirm-yes-really
        """)
    @Argument(help: "Bucket name: 3–63 characters of a-z, 0-9, '.', '-'.") var name: String
    @Option(help: "30m, 1h, 24h, 7d or permanent.") var ttl: String
    @Option(help: "<n>[K|M|G|T] or unlimited.") var quota: String
    @Flag(name: .customLong("confirm-yes-really"), help: "Confirm a permanent or unlimited bucket.") var confirm = false
    @OptionGroup var output: JSONOption

    func run() async throws {
        try await CLIRunner.run {
            _ = try BucketSpec(name: name, ttl: ttl, quota: quota, confirmed: confirm)  // refuse bad input before asking the daemon
            let info = try ControlClient.current().json("POST", "/v1/buckets",
                                                        body: ["name": name, "ttl": ttl, "quota": quota, "confirm": confirm], as: BucketInfo.self)
            if output.json { CLIRunner.printJSON(info) } else {
                print("created bucket \(info.name): ttl \(info.ttl)\(info.expiresAt.map { " (expires \($0))" } ?? ""), quota \(info.quota)")
            }
        }
    }
}

struct BucketList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List buckets with expiry, quota, usage and grants.",
                                                    discussion: "Examples:\n  garagetytus bucket list\n  garagetytus bucket list --json | jq '.[].name'")
    @OptionGroup var output: JSONOption

    func run() async throws {
        try await CLIRunner.run {
            let all = try ControlClient.current().json("GET", "/v1/buckets", as: [BucketInfo].self)
            if output.json { CLIRunner.printJSON(all); return }
            if all.isEmpty { print("no buckets — create one with: garagetytus bucket create NAME --ttl 24h --quota 1G"); return }
            let rows = [["NAME", "TTL", "EXPIRES", "QUOTA", "USED", "OBJECTS", "GRANTS", "DENY-ALL UNTIL"]] + all.map {
                [$0.name, $0.ttl, $0.expiresAt ?? "never", $0.quota, Human.bytes($0.usedBytes), "\($0.objects)", "\($0.activeGrants.count)", $0.denyAllUntil ?? "-"]
            }
            print(Human.table(rows))
        }
    }
}

struct BucketInfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Show one bucket: expiry, quota, usage, deny-all, grants, traffic.",
                                                    discussion: "Examples:\n  garagetytus bucket info photos\n  garagetytus bucket info photos --json")
    @Argument(help: "Bucket name.") var name: String
    @OptionGroup var output: JSONOption

    func run() async throws {
        try await CLIRunner.run {
            try BucketSpec.checkName(name)
            let b = try ControlClient.current().json("GET", "/v1/buckets/\(SigV4.uriEncode(name))", as: BucketInfo.self)
            if output.json { CLIRunner.printJSON(b); return }
            var lines = ["bucket \(b.name)",
                         "  created:   \(b.createdAt)",
                         "  expires:   \(b.expiresAt ?? "never") (ttl \(b.ttl))",
                         "  quota:     \(b.quota)",
                         "  used:      \(Human.bytes(b.usedBytes)) in \(b.objects) objects",
                         "  deny-all:  \(b.denyAllUntil.map { "until \($0)" } ?? "off")"]
            for w in ["1h", "24h", "7d"] {
                let t = b.traffic[w] ?? TrafficWindow()
                lines.append("  last \(w.padding(toLength: 4, withPad: " ", startingAt: 0)) \(t.ops) ops, \(Human.bytes(t.bytesIn)) in, \(Human.bytes(t.bytesOut)) out")
            }
            lines.append("  grants:    \(b.activeGrants.isEmpty ? "none active" : "")")
            for g in b.activeGrants { lines.append("    \(g.grantID) to \(g.label) (\(g.permissions)) until \(g.expiresAt)") }
            print(lines.joined(separator: "\n"))
        }
    }
}

struct BucketExpire: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expire", abstract: "Expire a bucket now: deny-all, revoke its grants, delete its objects and the bucket.",
        discussion: """
        Without NAME and with --dry-run, lists the buckets whose TTL has passed (the watchdog expires those by itself).

        Examples:
          garagetytus bucket expire scratch
          garagetytus bucket expire --dry-run
        """)
    @Argument(help: "Bucket name (needed unless --dry-run).") var name: String?
    @Flag(name: .customLong("dry-run"), help: "Only list what would be expired.") var dryRun = false
    @OptionGroup var output: JSONOption

    func run() async throws {
        try await CLIRunner.run {
            if let name { try BucketSpec.checkName(name) } else if !dryRun {
                throw DaemonError(.usage, "expire needs a bucket name", fix: "garagetytus bucket expire NAME, or --dry-run to list what is due")
            }
            var body: [String: Any] = ["dry_run": dryRun]
            if let name { body["name"] = name }
            let line = ProgressLine()
            let r: ExpireReport
            do {
                defer { line.finish() }
                r = try ControlClient.current().jsonWithProgress("POST", "/v1/expire", body: body, as: ExpireReport.self) { line.update($0) }
            }
            if output.json { CLIRunner.printJSON(r); return }
            if dryRun {
                print(r.buckets.isEmpty ? "no bucket is due" : "would expire: " + r.buckets.joined(separator: ", "))
            } else {
                print("expired \(r.buckets.joined(separator: ", ")): \(r.deletedObjects) objects deleted, \(r.revokedGrants) grants revoked")
            }
        }
    }
}

struct BucketDenyAll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deny-all", abstract: "Refuse every request with a grant for this bucket, presigned URLs included.",
        discussion: "Lifts itself when --ttl passes; `allow` lifts it now.\n\nExamples:\n  garagetytus bucket deny-all photos --ttl 1h")
    @Argument(help: "Bucket name.") var name: String
    @Option(help: "30m, 1h, 24h or 7d.") var ttl: String
    @OptionGroup var output: JSONOption

    func run() async throws {
        try await CLIRunner.run {
            try BucketSpec.checkName(name)
            if try BucketSpec.parseTTL(ttl) == .permanent {
                throw DaemonError(.usage, "deny-all cannot be permanent", fix: "use one of 30m, 1h, 24h or 7d; `allow` lifts it early")
            }
            let b = try ControlClient.current().json("POST", "/v1/buckets/\(SigV4.uriEncode(name))/deny-all", body: ["ttl": ttl], as: BucketInfo.self)
            if output.json { CLIRunner.printJSON(b) } else { print("bucket \(b.name) is under deny-all until \(b.denyAllUntil ?? "?") — lift it with: garagetytus bucket allow \(b.name)") }
        }
    }
}

struct BucketAllow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "allow", abstract: "Lift deny-all from a bucket now.",
                                                    discussion: "Examples:\n  garagetytus bucket allow photos")
    @Argument(help: "Bucket name.") var name: String
    @OptionGroup var output: JSONOption

    func run() async throws {
        try await CLIRunner.run {
            try BucketSpec.checkName(name)
            let b = try ControlClient.current().json("POST", "/v1/buckets/\(SigV4.uriEncode(name))/allow", as: BucketInfo.self)
            if output.json { CLIRunner.printJSON(b) } else { print("bucket \(b.name) accepts requests again") }
        }
    }
}
