import ArgumentParser
import Credentials
import Daemon
import Foundation
import S3

struct WorkspaceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workspace",
        abstract: "Workspaces: a bucket (or prefix) and cached credentials, mounted by name.",
        discussion: """
        Examples:
          artifacts workspace create cases --ttl 7d --quota 10G          # on the local daemon
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

/// What `workspace list/show` print.
struct WorkspaceView: Codable {
    struct Storage: Codable { var bucket: String; var endpoint: String; var region: String; var prefix: String }
    struct Mount: Codable { var mountpoint: String; var pid: Int32 }
    var id: String
    var kind: String
    var storage: Storage
    var status: String
    var mounts: [Mount]
    var credentialSource: String
    var accessKey: String?
    var credentialExpiresAt: String?
    var createdAt: String

    enum CodingKeys: String, CodingKey {
        case id, kind, storage, status, mounts, credentialSource = "credential_source", accessKey = "access_key"
        case credentialExpiresAt = "credential_expires_at", createdAt = "created_at"
    }

    /// `records`: this host's mounts, read once for all the workspaces shown; `buckets`: the local
    /// daemon's (nil: unknown). A managed workspace whose bucket is past its TTL is `deleting`
    /// (the daemon is expiring it), one whose bucket is gone `deleted`.
    init(_ r: WorkspaceRecord, _ w: Workspaces, records: [Workspaces.MountRecord], buckets: [String: BucketInfo]? = nil) {
        let creds = try? w.store.loadCredentials(r.name)
        let mine = records.filter { $0.workspace == r.name }
        let mounts = mine.filter(\.alive)
        id = r.name
        kind = r.kind.rawValue
        storage = Storage(bucket: r.bucket, endpoint: r.endpoint, region: r.region, prefix: r.prefix)
        self.mounts = mounts.map { Mount(mountpoint: $0.mountpoint, pid: $0.pid) }
        status = !mounts.isEmpty ? "mounted" : mine.contains(where: \.stale) ? "stale" : "active"
        if r.kind == .managed, let buckets {
            if let b = buckets[r.bucket] {
                if let end = b.expiresAt.flatMap(UTCTime.parseISO8601), end <= Date() { status = "deleting" }
                // Its grant is no longer active although it has not run out: an operator revoked it
                // (renewal leaves it so; `workspace rotate` issues a new one).
                else if let id = creds?.grantID, !b.activeGrants.contains(where: { $0.grantID == id }),
                        let end = creds?.expiresAt.flatMap(UTCTime.parseISO8601), end > Date() { status = "revoked" }
            } else {
                status = "deleted"
            }
        }
        credentialSource = creds?.source ?? (Workspaces.environmentCredentials() != nil ? "environment (ARTIFACTS_S3_*)" : "none")
        accessKey = creds.map { CachedCredentials.mask($0.accessKeyID) }
        credentialExpiresAt = creds?.expiresAt
        createdAt = r.createdAt
    }

    var text: String {
        var lines = ["workspace \(id) (\(kind)): \(status)",
                     "  storage:      s3://\(storage.bucket)/\(storage.prefix) at \(storage.endpoint) (region \(storage.region))",
                     "  credentials:  \(credentialSource)\(accessKey.map { ", key \($0)" } ?? "")\(credentialExpiresAt.map { ", expires \($0)" } ?? "")"]
        for m in mounts { lines.append("  mounted on:   \(m.mountpoint) (pid \(m.pid))") }
        return lines.joined(separator: "\n")
    }
}

struct WorkspaceCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a workspace: managed on the local daemon, or on your own S3 endpoint.",
        discussion: """
        Managed (no --endpoint): the daemon creates bucket NAME (--ttl/--quota with the bucket
        grammar; permanent or unlimited need --confirm-yes-really) and a 7-day grant cached for it;
        `workspace rotate` replaces the grant without breaking live mounts.
        Your own S3 (--endpoint and --bucket): keys from --access-key-id with --secret-access-key or
        --secret-stdin, or ARTIFACTS_S3_ACCESS_KEY_ID / ARTIFACTS_S3_SECRET_ACCESS_KEY; one request
        checks them before anything is saved.

        Examples:
          artifacts workspace create cases --ttl 7d --quota 10G
          echo "$SK" | artifacts workspace create cases --endpoint https://s3.example.com --bucket panta-cases --access-key-id AK --secret-stdin
        """)
    @Argument(help: "Workspace name: [a-z0-9][a-z0-9-]{1,62}.") var name: String
    @Option(help: "Managed: 30m, 1h, 24h, 7d or permanent.") var ttl: String = "permanent"
    @Option(help: "Managed: <n>[K|M|G|T] or unlimited.") var quota: String = "10G"
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
            let env = ProcessInfo.processInfo.environment
            try WorkspaceStore.checkName(name)
            let w = try Workspaces.current()
            if w.store.exists(name) {
                throw DaemonError(.usage, "workspace \(name) already exists", fix: "see `artifacts workspace show \(name)`")
            }
            let endpoint = self.endpoint ?? env["ARTIFACTS_S3_ENDPOINT"]
            let record: WorkspaceRecord
            let creds: CachedCredentials
            let now = UTCTime.iso8601Seconds(Date())
            if let endpoint {
                guard let url = URL(string: endpoint), url.scheme == "http" || url.scheme == "https", url.host != nil else {
                    throw DaemonError(.usage, "--endpoint \(endpoint.prefix(80)) is not an http(s) URL", fix: "e.g. --endpoint https://s3.example.com")
                }
                guard let bucket = bucket ?? env["ARTIFACTS_S3_BUCKET"], !bucket.isEmpty else {
                    throw DaemonError(.usage, "a workspace on your own S3 needs --bucket", fix: "add --bucket NAME (or set ARTIFACTS_S3_BUCKET)")
                }
                let keys = try StorageSet.readKeys(accessKeyID: accessKeyID, secret: secretAccessKey, secretStdin: secretStdin, env: env)
                let region = self.region ?? env["ARTIFACTS_S3_REGION"] ?? "us-east-1"
                try Workspaces.check(endpoint: url, bucket: bucket, region: region, credentials: keys)
                record = WorkspaceRecord(name: name, kind: .byo, endpoint: endpoint, bucket: bucket, region: region,
                                         prefix: prefix ?? env["ARTIFACTS_S3_PREFIX"] ?? "", createdAt: now)
                creds = CachedCredentials(accessKeyID: keys.accessKeyID, secretAccessKey: keys.secretAccessKey, source: "workspace create")
            } else {
                if accessKeyID != nil || secretAccessKey != nil || secretStdin || bucket != nil {
                    throw DaemonError(.usage, "keys and --bucket are for a workspace on your own S3", fix: "add --endpoint URL, or leave them out for a managed workspace")
                }
                let bucket = name.count >= 3 ? name : "ws-" + name
                _ = try BucketSpec(name: bucket, ttl: ttl, quota: quota, confirmed: confirm)
                guard let status = w.control.status(), status.running else {
                    throw DaemonError(.notRunning, "a managed workspace needs the local daemon, which is not running",
                                      fix: "start it with `garagetytus start`, or give --endpoint and --bucket for your own S3")
                }
                _ = try w.control.json("POST", "/v1/buckets", body: ["name": bucket, "ttl": ttl, "quota": quota, "confirm": confirm], as: BucketInfo.self)
                creds = try w.mintGrant(bucket: bucket, workspace: name)
                let cfg = try Bootstrap.loadConfig(paths: w.paths)
                record = WorkspaceRecord(name: name, kind: .managed, endpoint: "http://\(cfg.listenAddress):\(cfg.gatewayPort)", bucket: bucket,
                                         region: cfg.region, prefix: "", createdAt: now)
            }
            try w.store.saveCredentials(name, creds)
            try w.store.save(record)
            if record.kind == .managed {
                // The daemon keeps the grant renewed for as long as the workspace exists.
                _ = try w.control.json("POST", "/v1/workspaces", body: ["name": name, "bucket": record.bucket,
                                                                       "credentials_file": w.store.credentialsPath(name)], as: [String: Bool].self)
            }
            let view = WorkspaceView(record, w, records: try w.mountRecords(), buckets: w.daemonBuckets(for: [record]))
            if secretAccessKey != nil { CLIRunner.warnSecretInArgv("--secret-access-key", instead: "--secret-stdin or ARTIFACTS_S3_SECRET_ACCESS_KEY") }
            if output.json { CLIRunner.printJSON(view) } else { print("created \(view.text)") }
        }
    }
}

struct WorkspaceList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List workspaces with their storage, status and credentials.",
                                                    discussion: "Examples:\n  artifacts workspace list\n  artifacts --format json workspace list | jq .")
    @OptionGroup var output: FormatOption

    func run() async throws {
        try await CLIRunner.run {
            let w = try Workspaces.current()
            let records = try w.mountRecords()
            let list = try w.store.list()
            let buckets = w.daemonBuckets(for: list)
            let views = list.map { WorkspaceView($0, w, records: records, buckets: buckets) }
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
            let w = try Workspaces.current()
            let record = try w.store.load(name)
            let view = WorkspaceView(record, w, records: try w.mountRecords(), buckets: w.daemonBuckets(for: [record]))
            if output.json { CLIRunner.printJSON(view) } else { print(view.text) }
        }
    }
}
