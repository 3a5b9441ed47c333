import ArgumentParser
import Credentials
import Daemon
import Foundation
import S3

/// What the workspace commands share: the store, the daemon for managed workspaces, mounts seen
/// on this host, and where a mount's credentials come from.
struct Workspaces {
    let paths: Paths
    var store: WorkspaceStore { WorkspaceStore(configDir: paths.configDir) }
    var control: ControlClient { ControlClient(paths: paths) }

    /// The local daemon's buckets by name, for showing `workspaces`; nil when none of them is
    /// managed, or the daemon does not answer (then a managed workspace's bucket state is unknown).
    func daemonBuckets(for workspaces: [WorkspaceRecord]) -> [String: BucketInfo]? {
        guard workspaces.contains(where: { $0.kind == .managed }),
              let all = try? control.json("GET", "/v1/buckets", as: [BucketInfo].self) else { return nil }
        return Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    static func current() throws -> Workspaces { Workspaces(paths: try CLIRunner.resolvePaths()) }

    /// A mount of this host as its process registered it (`<data>/mounts/*.json`).
    typealias MountRecord = MountRegistry.Record

    func mountRecords() throws -> [MountRecord] { try MountRegistry.all(paths) }

    /// Mounts of this host whose process is alive.
    func liveMounts() throws -> [MountRecord] { try mountRecords().filter(\.alive) }

    /// A managed workspace's grant: all four permissions on its bucket, 7 days (re-minted by `rotate`).
    func mintGrant(bucket: String, workspace: String) throws -> CachedCredentials {
        let g = try control.json("POST", "/v1/grants", body: ["bucket": bucket, "to": "workspace:\(workspace)", "perms": "read,write,list,delete", "ttl": "7d"],
                                 as: GrantEnvelope.self)
        return CachedCredentials(accessKeyID: g.accessKey, secretAccessKey: g.secretKey, expiresAt: g.expiresAt, source: "grant \(g.grantID)", grantID: g.grantID)
    }

    /// One request proves the endpoint, the bucket and the keys (ListObjectsV2, one key).
    static func check(endpoint: URL, bucket: String, region: String, credentials: S3Credentials) throws {
        let client = S3Client(endpoint: endpoint, region: region, retry: RetryPolicy(maxAttempts: 2, budget: 10), timeout: 10,
                              credentials: { credentials })
        do {
            _ = try client.list(bucket: bucket, maxKeys: 1)
        } catch let e as S3Error {
            throw DaemonError(.failed, "\(endpoint.absoluteString) refused bucket \(bucket) with these credentials: \(e.message)",
                              fix: "check the endpoint, the bucket name and the keys")
        }
    }

    /// Credentials from the environment: ARTIFACTS_S3_ACCESS_KEY_ID / ARTIFACTS_S3_SECRET_ACCESS_KEY.
    static func environmentCredentials(_ env: [String: String] = ProcessInfo.processInfo.environment) -> S3Credentials? {
        guard let ak = env["ARTIFACTS_S3_ACCESS_KEY_ID"], let sk = env["ARTIFACTS_S3_SECRET_ACCESS_KEY"], !ak.isEmpty, !sk.isEmpty else { return nil }
        return S3Credentials(accessKeyID: ak, secretAccessKey: sk)
    }

    /// ARTIFACTS_TOKEN, decoded and checked, when set.
    static func environmentToken(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> ServiceToken? {
        guard let text = env["ARTIFACTS_TOKEN"], !text.isEmpty else { return nil }
        let t = try ServiceToken.decode(text)
        guard !t.expired() else { throw DaemonError(.usage, "the service token in ARTIFACTS_TOKEN expired at \(t.expiresAt)", fix: "ask for a new one (`artifacts key create`)") }
        return t
    }

    /// The workspace's record, or one made from ARTIFACTS_TOKEN or ARTIFACTS_S3_ENDPOINT/_BUCKET/… on a fresh host.
    func recordOrEnvironment(_ name: String, env: [String: String] = ProcessInfo.processInfo.environment) throws -> WorkspaceRecord {
        try WorkspaceStore.checkName(name)
        if store.exists(name) { return try store.load(name) }
        if let t = try Self.environmentToken(env) {
            guard t.workspace == name else { throw DaemonError(.usage, "ARTIFACTS_TOKEN is for workspace \(t.workspace), not \(name)") }
            return t.record
        }
        if let endpoint = env["ARTIFACTS_S3_ENDPOINT"], let bucket = env["ARTIFACTS_S3_BUCKET"], !endpoint.isEmpty, !bucket.isEmpty {
            return WorkspaceRecord(name: name, kind: .byo, endpoint: endpoint, bucket: bucket, region: env["ARTIFACTS_S3_REGION"] ?? "us-east-1",
                                   prefix: env["ARTIFACTS_S3_PREFIX"] ?? "", createdAt: "")
        }
        return try store.load(name)  // says there is no such workspace
    }

    /// The one workspace when `--workspace` is left out.
    func only(_ given: String?) throws -> String {
        if let given { return given }
        let all = try store.list()
        guard all.count == 1 else {
            throw DaemonError(.usage, all.isEmpty ? "there is no workspace yet" : "there are \(all.count) workspaces",
                              fix: all.isEmpty ? "create one with `artifacts workspace create NAME`" : "name one with --workspace NAME")
        }
        return all[0].name
    }
}

/// `--format text|json` (artifacts' global option, accepted before the subcommand too).
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

struct FormatOption: ParsableArguments {
    @Option(help: "Output format: text or json.") var format: OutputFormat = .text
    var json: Bool { format == .json }
}

enum GlobalOptions {
    /// `artifacts --format json workspace list` → `workspace list --format json`.
    static func hoistFormat(_ args: [String]) -> [String] {
        guard let first = args.first else { return args }
        if first.hasPrefix("--format=") { return Array(args.dropFirst()) + [first] }
        if first == "--format", args.count >= 2 { return Array(args.dropFirst(2)) + Array(args.prefix(2)) }
        return args
    }
}
