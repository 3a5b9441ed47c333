import ArgumentParser
import Credentials
import Daemon
import Foundation
import S3
import Workspaces

struct WorkspaceRotate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate", abstract: "Replace a managed workspace's grant; live mounts switch without a remount.",
        discussion: """
        A new grant is minted and the cache is swapped atomically; live mounts sign their next requests with it (they follow the cache file and report the key they use). The old grant is revoked as soon as every live mount of the workspace has switched (within 10 s), else after --grace seconds (default 300); a request already under way with it still completes.

        Examples:
          artifacts workspace rotate cases
          artifacts workspace rotate cases --grace 0
        """)
    @Argument(help: "Workspace name.") var name: String
    @Option(help: "Seconds the old grant keeps working.") var grace: Double = 300
    @OptionGroup var output: FormatOption

    func run() async throws {
        try await CLIRunner.run {
            let w = try WorkspaceHost.current()
            let (record, outcome) = try w.rotate(name, grace: grace)
            let view = try w.view(record, daemonState: false)
            if output.json { CLIRunner.printJSON(view); return }
            let fresh = outcome.fresh
            print("rotated \(name): now \(fresh.source) (key \(CachedCredentials.mask(fresh.accessKeyID)), expires \(fresh.expiresAt ?? "?"))" + Self.text(outcome.old))
        }
    }

    static func text(_ old: WorkspaceRotation.OldGrant) -> String {
        switch old {
        case .none: return ""
        case .revoked(let id): return "; \(id) is revoked (every mount switched)"
        case .retiring(let id, let seconds, let pending):
            return "; \(id) is revoked in \(Int(seconds)) s" + (pending.isEmpty ? "" : " (not switched yet: \(pending.joined(separator: ", ")))")
        case .stillActive(let id, let reason):
            return "; \(id) is still active (the daemon did not retire it: \(reason)); revoke it with `garagetytus bucket revoke \(id)`"
        }
    }
}

struct WorkspaceDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete a workspace's config and cached credentials (the bucket's data are not touched).",
        discussion: "Examples:\n  artifacts unmount /mnt/work && artifacts workspace delete cases --yes\n  artifacts workspace delete cases --yes --unmount")
    @Argument(help: "Workspace name.") var name: String
    @Flag(help: "Really delete.") var yes = false
    @Flag(help: "Unmount its live mounts first.") var unmount = false

    func run() async throws {
        try await CLIRunner.run {
            let record = try WorkspaceHost.current().delete(name, confirmed: yes, unmountFirst: unmount)
            print("deleted workspace \(name). Its data in s3://\(record.bucket)/\(record.prefix) were not touched; to free them:")
            print("  aws s3 rm s3://\(record.bucket)/\(record.prefix) --recursive --endpoint-url \(record.endpoint)")
        }
    }
}

struct StorageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage", abstract: "The credentials cached for a workspace.",
        discussion: """
        Examples:
          echo "$SK" | artifacts storage set --workspace cases --access-key-id AK --secret-stdin
          artifacts storage set --token-stdin < token.txt
          ARTIFACTS_TOKEN=gtk1.… artifacts storage set
          artifacts storage show
          artifacts storage clear --workspace cases
        """,
        subcommands: [StorageSet.self, StorageShow.self, StorageClear.self])
}

struct StorageSet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set", abstract: "Cache new credentials for a workspace (live mounts switch to them by themselves).",
        discussion: """
        --workspace may be left out when there is exactly one. Secrets given on the command line (--secret-access-key, --token) are readable by every user of the host while the command runs: prefer --secret-stdin / --token-stdin, or ARTIFACTS_S3_SECRET_ACCESS_KEY / ARTIFACTS_TOKEN.

        Examples:
          echo "$SK" | artifacts storage set --access-key-id AK --secret-stdin
          artifacts storage set --token-stdin < token.txt
          ARTIFACTS_TOKEN="$(cat token.txt)" artifacts storage set
        """)
    @Option(help: "Workspace name (default: the only one).") var workspace: String?
    @Option(help: "Access key id.") var accessKeyID: String?
    @Option(help: "Secret access key (visible to other users while the command runs: prefer --secret-stdin).") var secretAccessKey: String?
    @Flag(help: "Read the secret access key from standard input.") var secretStdin = false
    @Option(help: "A service token (`artifacts key create`): sets up the workspace and its cache (prefer --token-stdin or ARTIFACTS_TOKEN).") var token: String?
    @Flag(help: "Read the service token from standard input.") var tokenStdin = false

    /// The service token from --token, standard input or ARTIFACTS_TOKEN, if one is given.
    static func readToken(flag: String?, stdin: Bool, secretStdin: Bool, env: [String: String]) throws -> String? {
        if flag != nil && stdin { throw DaemonError(.usage, "give the token either with --token or --token-stdin, not both") }
        if stdin && secretStdin { throw DaemonError(.usage, "--token-stdin and --secret-stdin both read standard input; use one") }
        if let flag { return flag }
        if stdin {
            let text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { throw DaemonError(.usage, "--token-stdin read nothing", fix: "pipe the token in: artifacts storage set --token-stdin < token.txt") }
            return text
        }
        return env["ARTIFACTS_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The secret from standard input, read only once the rest of the request is valid.
    static let stdinSecret: @Sendable () -> String = { String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) }

    func run() async throws {
        try await CLIRunner.run {
            let w = try WorkspaceHost.current()
            let env = ProcessInfo.processInfo.environment
            let keysGiven = accessKeyID != nil || secretAccessKey != nil || secretStdin
            // ARTIFACTS_TOKEN in the environment does not stand in for keys given on the command line.
            let fromEnv = token == nil && !tokenStdin && env["ARTIFACTS_TOKEN"] != nil && keysGiven
            if let token = try fromEnv ? nil : Self.readToken(flag: token, stdin: tokenStdin, secretStdin: secretStdin, env: env) {
                guard !keysGiven else { throw DaemonError(.usage, "--token carries the keys; leave out --access-key-id and the secret") }
                let t = try w.importToken(token, workspace: workspace)
                if self.token != nil { CLIRunner.warnSecretInArgv("--token", instead: "--token-stdin or ARTIFACTS_TOKEN") }
                print("workspace \(t.workspace) set up from a service token (\(t.mode), key \(CachedCredentials.mask(t.accessKeyID)), expires \(t.expiresAt)); mount it with: artifacts mount \(t.workspace) DIR")
                return
            }
            let given = GivenKeys(accessKeyID: accessKeyID, secret: secretAccessKey, readSecret: secretStdin ? Self.stdinSecret : nil)
            let (record, keys) = try w.setKeys(given, workspace: workspace, env: env)
            if secretAccessKey != nil { CLIRunner.warnSecretInArgv("--secret-access-key", instead: "--secret-stdin or ARTIFACTS_S3_SECRET_ACCESS_KEY") }
            print("cached new credentials for \(record.name) (key \(CachedCredentials.mask(keys.accessKeyID))); live mounts of s3://\(record.bucket) switch to them by themselves")
        }
    }
}

struct StorageShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a workspace's cached credentials, masked.",
                                                    discussion: "Examples:\n  artifacts storage show\n  artifacts storage show --workspace cases --format json")
    @Option(help: "Workspace name (default: the only one).") var workspace: String?
    @OptionGroup var output: FormatOption

    func run() async throws {
        try await CLIRunner.run {
            let w = try WorkspaceHost.current()
            let name = try w.only(workspace)
            _ = try w.store.load(name)
            let c = try w.store.loadCredentials(name)
            let shown: [String: String] = ["workspace": name, "access_key": c.map { CachedCredentials.mask($0.accessKeyID) } ?? "",
                                           "source": c?.source ?? "none", "expires_at": c?.expiresAt ?? ""]
            if output.json { CLIRunner.printJSON(shown); return }
            guard let c else { print("\(name): no cached credentials (a mount would use ARTIFACTS_S3_* from the environment)"); return }
            print("\(name): key \(CachedCredentials.mask(c.accessKeyID)), from \(c.source)\(c.expiresAt.map { ", expires \($0)" } ?? "")")
        }
    }
}

struct StorageClear: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "clear", abstract: "Remove a workspace's cached credentials.",
                                                    discussion: "Examples:\n  artifacts storage clear --workspace cases")
    @Option(help: "Workspace name (default: the only one).") var workspace: String?

    func run() async throws {
        try await CLIRunner.run {
            let w = try WorkspaceHost.current()
            let name = try w.only(workspace)
            _ = try w.store.load(name)
            w.store.clearCredentials(name)
            print("cleared the cached credentials of \(name)")
        }
    }
}
