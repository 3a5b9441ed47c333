import ArgumentParser
import Credentials
import Daemon
import Foundation
import S3
import Workspaces

/// `key create|list|revoke`: service tokens for fresh hosts (`storage set --token T` or ARTIFACTS_TOKEN).
struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Service tokens: everything a fresh host needs to mount a workspace.",
        discussion: """
        Examples:
          artifacts key create --workspace cases --mode ro --ttl 24h --name ci
          artifacts storage set --token "$TOKEN"          # on the fresh host, or: ARTIFACTS_TOKEN=$TOKEN artifacts mount cases /mnt/work
          artifacts key list --workspace cases
          artifacts key revoke g_20261123_1a2b3c4d
        """,
        subcommands: [KeyCreate.self, KeyList.self, KeyRevoke.self])
}

struct KeyCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Print a service token for a workspace (a secret: shown once).",
        discussion: """
        For a managed workspace the token carries its own grant (rw: read,write,list,delete; ro: read,list — the daemon refuses its writes), revocable with `key revoke`. For a workspace on your own S3 it carries your keys; `ro` then only makes the mount read-only.
        """)
    @Option(help: "Workspace (default: the only one).") var workspace: String?
    @Option(help: "rw or ro.") var mode: String
    @Option(help: "30m, 1h, 24h or 7d.") var ttl: String
    @Option(help: "A name for listings.") var name: String = "key"

    func run() async throws {
        try await CLIRunner.run {
            let (token, id) = try WorkspaceHost.current().issueToken(workspace: workspace, mode: mode, ttl: ttl, name: name)
            let ends = token.grantID != nil ? "revoke with: artifacts key revoke \(id)"
                : "it carries your own keys — rotate them at your provider to revoke it"
            FileHandle.standardError.write(Data("service token \(id) for \(token.workspace) (\(mode)), expires \(token.expiresAt); \(ends)\n".utf8))
            print(token.encoded())
        }
    }
}

struct KeyList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List a workspace's service tokens.",
                                                    discussion: "Examples:\n  artifacts key list --workspace cases")
    @Option(help: "Workspace (default: the only one).") var workspace: String?
    @OptionGroup var output: FormatOption

    func run() async throws {
        try await CLIRunner.run {
            let (ws, tokens) = try WorkspaceHost.current().serviceTokens(workspace: workspace)
            switch tokens {
            case .ownKeys(let issued):
                // Tokens carrying your own keys: listed as handed out here, ended only at your provider.
                if output.json { CLIRunner.printJSON(issued); return }
                if issued.isEmpty { print("no service tokens for \(ws)"); return }
                let now = UTCTime.iso8601Seconds(Date())
                print(Human.table([["ID", "NAME", "MODE", "EXPIRES", "STATE", "KEY"]] + issued.map {
                    [$0.id, $0.name, $0.mode, $0.expiresAt, $0.expiresAt <= now ? "expired" : "active", $0.accessKey]
                }))
                print("these tokens carry your own keys: to end one before it expires, rotate the keys at your provider")
            case .grants(let keys):
                if output.json { CLIRunner.printJSON(keys); return }
                if keys.isEmpty { print("no service tokens for \(ws)"); return }
                print(Human.table([["ID", "NAME", "MODE", "EXPIRES", "STATE"]] + keys.map {
                    [$0.grantID, String($0.label.dropFirst(4)), $0.permissions.contains("write") ? "rw" : "ro", $0.expiresAt, $0.state]
                }))
            }
        }
    }
}

struct KeyRevoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a service token of a managed workspace.",
                                                    discussion: "Examples:\n  artifacts key revoke g_20261123_1a2b3c4d")
    @Argument(help: "The token's id (see `artifacts key list`).") var id: String

    func run() async throws {
        try await CLIRunner.run {
            if id.hasPrefix("k_") {
                throw DaemonError(.usage, "service token \(id.prefix(20)) carries the own keys of a workspace on your S3 and cannot be revoked here",
                                  fix: "rotate the keys at your provider, then `artifacts storage set …` with the new ones")
            }
            guard GrantSpec.isGrantID(id) else {
                throw DaemonError(.usage, "invalid key id \"\(id.prefix(40))\"", fix: "see `artifacts key list`")
            }
            let g = try WorkspaceHost.current().control.json("POST", "/v1/grants/\(id)/revoke", as: GrantInfo.self)
            print("revoked service token \(g.grantID): refused from now on")
        }
    }
}
