import ArgumentParser
import Credentials
import Daemon
import Foundation
import S3
import Workspaces

struct WorkspaceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workspace",
        abstract: "Workspaces: a bucket (or prefix) and cached credentials, mounted by name.",
        discussion: """
        Examples:
          artifacts workspace create cases                               # on the local daemon: 7 days, 10G
          artifacts workspace create cases --endpoint https://fly.storage.tigris.dev --bucket panta-cases --secret-stdin --access-key-id AK
          artifacts workspace list
          artifacts --format json workspace list | jq .
          artifacts workspace show cases
          artifacts workspace rotate cases
          artifacts workspace delete cases --yes
        """,
        subcommands: [WorkspaceCreate.self, WorkspaceList.self, WorkspaceShow.self, WorkspaceRotate.self, WorkspaceDelete.self,
                      ArtifactsStatus.self, ArtifactsStats.self])
}

extension WorkspaceView {
    /// One field a line, as `--format json` has them.
    var text: String {
        var fields = [("id", id), ("kind", kind), ("status", status), ("bucket", storage.bucket), ("endpoint", storage.endpoint),
                      ("region", storage.region), ("prefix", storage.prefix.isEmpty ? "(the whole bucket)" : storage.prefix),
                      ("credentials", credentialSource), ("access key", accessKey ?? "-"), ("expires", credentialExpiresAt ?? "-")]
        for m in mounts { fields.append(("mounted on", "\(m.mountpoint) (pid \(m.pid))")) }
        return (["workspace \(id)"] + fields.map { "  " + ($0.0 + ":").padding(toLength: 13, withPad: " ", startingAt: 0) + " " + $0.1 })
            .joined(separator: "\n")
    }
}

struct WorkspaceCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a workspace: managed on the local daemon, or on your own S3 endpoint.",
        discussion: """
        Managed (no --endpoint): the daemon creates bucket NAME, by default for 7 days with a 10G quota (--ttl and --quota take the bucket grammar; permanent or unlimited need --confirm-yes-really), and a 7-day grant cached for it; `workspace rotate` replaces the grant without breaking live mounts.

        Your own S3 (--endpoint and --bucket): keys from --access-key-id with --secret-access-key or --secret-stdin, or ARTIFACTS_S3_ACCESS_KEY_ID / ARTIFACTS_S3_SECRET_ACCESS_KEY; one request checks them before anything is saved.

        Examples:
          artifacts workspace create cases                        # a bucket for 7 days, 10G
          artifacts workspace create cases --ttl 24h --quota 1G
          echo "$SK" | artifacts workspace create cases --endpoint https://s3.example.com --bucket panta-cases --access-key-id AK --secret-stdin
        """)
    @Argument(help: "Workspace name: [a-z0-9][a-z0-9-]{1,62}.") var name: String
    @Option(help: "Managed: 30m, 1h, 24h, 7d or permanent (default: 7d).") var ttl: String?
    @Option(help: "Managed: <n>[K|M|G|T] or unlimited (default: 10G).") var quota: String?
    @Flag(name: .customLong("confirm-yes-really"), help: "Confirm a permanent or unlimited bucket.") var confirm = false
    @Option(help: "Your own S3 endpoint URL.") var endpoint: String?
    @Option(help: "Your own bucket.") var bucket: String?
    @Option(help: "Region for signing.") var region: String?
    @Option(help: "Only this key prefix of the bucket.") var prefix: String?
    @Option(help: "Access key id (your own S3).") var accessKeyID: String?
    @Option(help: "Secret access key (prefer --secret-stdin: it stays out of shell history).") var secretAccessKey: String?
    @Flag(help: "Read the secret access key from standard input.") var secretStdin = false
    @OptionGroup var output: FormatOption

    func run() async throws {
        try await CLIRunner.run {
            var n = NewWorkspace(name: name)
            (n.ttl, n.quota, n.confirmed) = (ttl ?? NewWorkspace.defaultTTL, quota ?? NewWorkspace.defaultQuota, confirm)
            (n.endpoint, n.bucket, n.region, n.prefix) = (endpoint, bucket, region, prefix)
            n.keys = GivenKeys(accessKeyID: accessKeyID, secret: secretAccessKey, readSecret: secretStdin ? StorageSet.stdinSecret : nil)
            let w = try WorkspaceHost.current()
            let record = try w.create(n)
            let view = try w.view(record)
            if secretAccessKey != nil { CLIRunner.warnSecretInArgv("--secret-access-key", instead: "--secret-stdin or ARTIFACTS_S3_SECRET_ACCESS_KEY") }
            if output.json { CLIRunner.printJSON(view); return }
            print("created \(view.text)")
            if endpoint == nil, ttl == nil || quota == nil {
                print("bucket \(record.bucket): TTL \(n.ttl), quota \(n.quota) (the defaults; --ttl and --quota choose others)")
            }
        }
    }
}

struct WorkspaceList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List workspaces with their storage, status and credentials.",
                                                    discussion: "Examples:\n  artifacts workspace list\n  artifacts --format json workspace list | jq .")
    @OptionGroup var output: FormatOption

    func run() async throws {
        try await CLIRunner.run {
            let w = try WorkspaceHost.current()
            let views = try w.views(try w.store.list())
            if output.json { CLIRunner.printJSON(views); return }
            if views.isEmpty { print("no workspaces — create one with: artifacts workspace create NAME"); return }
            print(Human.table([["NAME", "KIND", "STORAGE", "STATUS", "KEY", "EXPIRES"]] + views.map {
                [$0.id, $0.kind, "s3://\($0.storage.bucket)/\($0.storage.prefix) at \($0.storage.endpoint)", $0.status, $0.accessKey ?? "-", $0.credentialExpiresAt ?? "-"]
            }))
        }
    }
}

struct WorkspaceShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one workspace.",
                                                    discussion: "Examples:\n  artifacts workspace show cases\n  artifacts --format json workspace show cases")
    @Argument(help: "Workspace name.") var name: String
    @OptionGroup var output: FormatOption

    func run() async throws {
        try await CLIRunner.run {
            let w = try WorkspaceHost.current()
            let view = try w.view(try w.store.load(name))
            if output.json { CLIRunner.printJSON(view) } else { print(view.text) }
        }
    }
}
