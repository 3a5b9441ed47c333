import Credentials
import Daemon
import Foundation
import S3

/// The workspace layer on one host: its workspace store, the daemon for managed workspaces, the
/// mounts this host runs, and where a mount's credentials come from.
public struct WorkspaceHost: Sendable {
    public let paths: Paths
    public var store: WorkspaceStore { WorkspaceStore(configDir: paths.configDir) }
    public var control: ControlClient { ControlClient(paths: paths) }

    public init(paths: Paths) { self.paths = paths }

    /// The local daemon's buckets by name, for showing `workspaces`; nil when none of them is
    /// managed, or the daemon does not answer (then a managed workspace's bucket state is unknown).
    public func daemonBuckets(for workspaces: [WorkspaceRecord]) -> [String: BucketInfo]? {
        guard workspaces.contains(where: { $0.kind == .managed }),
              let all = try? control.json("GET", "/v1/buckets", as: [BucketInfo].self) else { return nil }
        return Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The host of `GARAGETYTUS_HOME` (or the defaults).
    public static func current() throws -> WorkspaceHost { WorkspaceHost(paths: try Paths.resolve()) }

    /// A mount of this host as its process registered it (`<data>/mounts/*.json`).
    public typealias MountRecord = MountRegistry.Record

    public func mountRecords() throws -> [MountRecord] { try MountRegistry.all(paths) }

    /// Mounts of this host whose process is alive.
    public func liveMounts() throws -> [MountRecord] { try mountRecords().filter(\.alive) }

    /// A managed workspace's grant: all four permissions on its bucket, 7 days (re-minted by `rotate`).
    public func mintGrant(bucket: String, workspace: String) throws -> CachedCredentials {
        try DaemonGrants(control: control).mint(bucket: bucket, workspace: workspace)
    }

    /// Replaces a managed workspace's grant (`WorkspaceRotation`); `grace`: seconds the old one keeps working.
    public func rotate(_ name: String, grace: Double) throws -> (WorkspaceRecord, WorkspaceRotation.Outcome) {
        let record = try store.load(name)
        guard record.kind == .managed else {
            throw DaemonError(.usage, "workspace \(name) uses your own S3 keys; rotate them at your provider",
                              fix: "then cache the new ones with `artifacts storage set --workspace \(name) --access-key-id … --secret-stdin`")
        }
        guard grace >= 0, grace <= 86400 else { throw DaemonError(.usage, "--grace must be between 0 and 86400 seconds") }
        let rotation = WorkspaceRotation(grants: DaemonGrants(control: control), cache: store, mounts: self)
        return (record, try rotation.rotate(workspace: name, bucket: record.bucket, grace: grace))
    }

    /// One request proves the endpoint, the bucket and the keys (ListObjectsV2, one key).
    public static func check(endpoint: URL, bucket: String, region: String, credentials: S3Credentials) throws {
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
    public static func environmentCredentials(_ env: [String: String] = ProcessInfo.processInfo.environment) -> S3Credentials? {
        guard let ak = env["ARTIFACTS_S3_ACCESS_KEY_ID"], let sk = env["ARTIFACTS_S3_SECRET_ACCESS_KEY"], !ak.isEmpty, !sk.isEmpty else { return nil }
        return S3Credentials(accessKeyID: ak, secretAccessKey: sk)
    }

    /// ARTIFACTS_TOKEN, decoded and checked, when set.
    public static func environmentToken(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> ServiceToken? {
        guard let text = env["ARTIFACTS_TOKEN"], !text.isEmpty else { return nil }
        let t = try ServiceToken.decode(text)
        guard !t.expired() else { throw DaemonError(.usage, "the service token in ARTIFACTS_TOKEN expired at \(t.expiresAt)", fix: "ask for a new one (`artifacts key create`)") }
        return t
    }

    /// The workspace's record, or one made from ARTIFACTS_TOKEN or ARTIFACTS_S3_ENDPOINT/_BUCKET/… on a fresh host.
    public func recordOrEnvironment(_ name: String, env: [String: String] = ProcessInfo.processInfo.environment) throws -> WorkspaceRecord {
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
    public func only(_ given: String?) throws -> String {
        if let given { return given }
        let all = try store.list()
        guard all.count == 1 else {
            throw DaemonError(.usage, all.isEmpty ? "there is no workspace yet" : "there are \(all.count) workspaces",
                              fix: all.isEmpty ? "create one with `artifacts workspace create NAME`" : "name one with --workspace NAME")
        }
        return all[0].name
    }
}

extension WorkspaceHost: MountKeyReports {
    public func liveMountKeys(of workspace: String) throws -> [(mountpoint: String, fingerprint: String?)] {
        try liveMounts().filter { $0.workspace == workspace }.map { ($0.mountpoint, $0.keyFingerprint) }
    }
}
