import ArgumentParser
import Credentials
import Daemon
import Foundation
import S3

struct WorkspaceRotate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate", abstract: "Replace a managed workspace's grant; live mounts switch without a remount.",
        discussion: """
        A new grant is minted and the cache is swapped atomically; live mounts sign their next
        requests with it (they follow the cache file and report the key they use). The old grant is
        revoked as soon as every live mount of the workspace has switched (within 10 s), else after
        --grace seconds (default 300); a request already under way with it still completes.

        Examples:
          artifacts workspace rotate cases
          artifacts workspace rotate cases --grace 0
        """)
    @Argument(help: "Workspace name.") var name: String
    @Option(help: "Seconds the old grant keeps working.") var grace: Double = 300
    @OptionGroup var output: FormatOption

    func run() async throws {
        try await CLIRunner.run {
            let w = try Workspaces.current()
            let record = try w.store.load(name)
            guard record.kind == .managed else {
                throw DaemonError(.usage, "workspace \(name) uses your own S3 keys; rotate them at your provider",
                                  fix: "then cache the new ones with `artifacts storage set --workspace \(name) --access-key-id … --secret-stdin`")
            }
            guard grace >= 0, grace <= 86400 else { throw DaemonError(.usage, "--grace must be between 0 and 86400 seconds") }
            let old = try w.store.loadCredentials(name)
            let fresh = try w.mintGrant(bucket: record.bucket, workspace: name)
            try w.store.saveCredentials(name, fresh)
            var outcome = ""
            if let oldID = old?.grantID {
                _ = try? w.control.json("POST", "/v1/grants/\(oldID)/retire", body: ["in_seconds": grace], as: GrantInfo.self)
                // Every live mount of the workspace reports the key it signs with (a mount looks at
                // the cache once a second): once all use the new one, the old grant goes now.
                let key = MountRegistry.fingerprint(fresh.accessKeyID)
                let deadline = Date().addingTimeInterval(min(grace, 10))
                var pending: [Workspaces.MountRecord]
                while true {
                    pending = try w.liveMounts().filter { $0.workspace == name && $0.keyFingerprint != key }
                    if pending.isEmpty || Date() >= deadline { break }
                    usleep(100_000)
                }
                if pending.isEmpty, (try? w.control.json("POST", "/v1/grants/\(oldID)/revoke", as: GrantInfo.self)) != nil {
                    outcome = "; \(oldID) is revoked (every mount switched)"
                } else {
                    outcome = "; \(oldID) is revoked in \(Int(grace)) s" + (pending.isEmpty ? "" : " (not switched yet: \(pending.map(\.mountpoint).joined(separator: ", ")))")
                }
            }
            let view = WorkspaceView(record, w, records: try w.mountRecords())
            if output.json { CLIRunner.printJSON(view) } else {
                print("rotated \(name): now \(fresh.source) (key \(CachedCredentials.mask(fresh.accessKeyID)), expires \(fresh.expiresAt ?? "?"))" + outcome)
            }
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
            let w = try Workspaces.current()
            let record = try w.store.load(name)
            guard yes else { throw DaemonError(.usage, "deleting workspace \(name) needs --yes", fix: "artifacts workspace delete \(name) --yes") }
            let mounts = try w.liveMounts().filter { $0.workspace == name }
            if !mounts.isEmpty && !unmount {
                throw DaemonError(.usage, "workspace \(name) is mounted on \(mounts.map(\.mountpoint).joined(separator: ", "))",
                                  fix: "unmount it first (`artifacts unmount \(mounts[0].mountpoint)`) or add --unmount")
            }
            for m in mounts { _ = try MountRunner.unmount(m.mountpoint, paths: w.paths, timeout: 30) }
            let creds = try? w.store.loadCredentials(name)
            if record.kind == .managed {
                _ = try? w.control.json("DELETE", "/v1/workspaces/\(name)", as: [String: Bool].self)
                if let id = creds?.grantID { _ = try? w.control.json("POST", "/v1/grants/\(id)/revoke", as: GrantInfo.self) }
            }
            w.store.delete(name)
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
        --workspace may be left out when there is exactly one. Secrets given on the command line \
        (--secret-access-key, --token) are readable by every user of the host while the command runs: \
        prefer --secret-stdin / --token-stdin, or ARTIFACTS_S3_SECRET_ACCESS_KEY / ARTIFACTS_TOKEN.

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

    /// The keys from flags, standard input or the ARTIFACTS_S3_* environment, validated.
    static func readKeys(accessKeyID: String?, secret: String?, secretStdin: Bool, env: [String: String]) throws -> S3Credentials {
        if secret != nil && secretStdin { throw DaemonError(.usage, "give the secret either with --secret-access-key or --secret-stdin, not both") }
        var sk = secret
        if secretStdin {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            sk = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let ak = accessKeyID ?? env["ARTIFACTS_S3_ACCESS_KEY_ID"], let sk = sk ?? env["ARTIFACTS_S3_SECRET_ACCESS_KEY"],
              !ak.isEmpty, !sk.isEmpty else {
            throw DaemonError(.usage, "no keys given",
                              fix: "pass --access-key-id with --secret-access-key or --secret-stdin, or set ARTIFACTS_S3_ACCESS_KEY_ID and ARTIFACTS_S3_SECRET_ACCESS_KEY")
        }
        guard ak.utf8.count <= 256, sk.utf8.count <= 1024, (ak + sk).unicodeScalars.allSatisfy({ $0.value > 32 && $0.value < 127 }) else {
            throw DaemonError(.usage, "the keys must be printable ASCII without spaces")
        }
        return S3Credentials(accessKeyID: ak, secretAccessKey: sk)
    }

    func run() async throws {
        try await CLIRunner.run {
            let w = try Workspaces.current()
            let env = ProcessInfo.processInfo.environment
            let fromEnv = token == nil && !tokenStdin && env["ARTIFACTS_TOKEN"] != nil && (accessKeyID != nil || secretAccessKey != nil || secretStdin)
            if let token = try fromEnv ? nil : Self.readToken(flag: token, stdin: tokenStdin, secretStdin: secretStdin, env: env) {
                guard accessKeyID == nil, secretAccessKey == nil, !secretStdin else {
                    throw DaemonError(.usage, "--token carries the keys; leave out --access-key-id and the secret")
                }
                let t = try ServiceToken.decode(token)
                if let workspace, workspace != t.workspace {
                    throw DaemonError(.usage, "the token is for workspace \(t.workspace), not \(workspace)")
                }
                guard !t.expired() else { throw DaemonError(.usage, "the service token expired at \(t.expiresAt)", fix: "ask for a new one (`artifacts key create`)") }
                var record = t.record
                record.createdAt = UTCTime.iso8601Seconds(Date())
                try w.store.saveCredentials(t.workspace, t.credentials)
                try w.store.save(record)
                if self.token != nil { CLIRunner.warnSecretInArgv("--token", instead: "--token-stdin or ARTIFACTS_TOKEN") }
                print("workspace \(t.workspace) set up from a service token (\(t.mode), key \(CachedCredentials.mask(t.accessKeyID)), expires \(t.expiresAt)); mount it with: artifacts mount \(t.workspace) DIR")
                return
            }
            let name = try w.only(workspace)
            let record = try w.store.load(name)
            let keys = try Self.readKeys(accessKeyID: accessKeyID, secret: secretAccessKey, secretStdin: secretStdin, env: ProcessInfo.processInfo.environment)
            try w.store.saveCredentials(name, CachedCredentials(accessKeyID: keys.accessKeyID, secretAccessKey: keys.secretAccessKey, source: "storage set"))
            if secretAccessKey != nil { CLIRunner.warnSecretInArgv("--secret-access-key", instead: "--secret-stdin or ARTIFACTS_S3_SECRET_ACCESS_KEY") }
            print("cached new credentials for \(name) (key \(CachedCredentials.mask(keys.accessKeyID))); live mounts of s3://\(record.bucket) switch to them by themselves")
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
            let w = try Workspaces.current()
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
            let w = try Workspaces.current()
            let name = try w.only(workspace)
            _ = try w.store.load(name)
            w.store.clearCredentials(name)
            print("cleared the cached credentials of \(name)")
        }
    }
}
