import Credentials
import Foundation
import Logging
import S3

/// `garagetytus migrate-to-cluster`: moves a daemon with the embedded engine onto a SeaweedFS
/// cluster without losing a bucket. Everything is checked before anything is written; then every
/// bucket (its record, its objects with their metadata) and every active grant (sealed with the
/// cluster's admin secret, holding a slot of the cluster-wide limit) is copied into the cluster,
/// and `garagetytus.toml` is switched to the cluster (the old file kept beside it). The embedded
/// engine's data stays where it is. Run again after an interruption, it goes on where it stopped:
/// a bucket the cluster has from an earlier run (same creation time) is completed, objects
/// already there with the same ETag are skipped.
public struct ClusterMigration: Sendable {
    public struct Target: Sendable {
        public var masters: [String]
        public var filer: String
        public var s3Endpoint: String
        public var identityFile: String
        public var securityFile: String
        public var stateBucket: String

        public init(masters: [String], filer: String, s3Endpoint: String, identityFile: String, securityFile: String, stateBucket: String) {
            self.masters = masters
            self.filer = filer
            self.s3Endpoint = s3Endpoint
            self.identityFile = identityFile
            self.securityFile = securityFile
            self.stateBucket = stateBucket
        }
    }

    public struct Report: Codable, Sendable, Equatable {
        public struct Bucket: Codable, Sendable, Equatable {
            public var name: String
            public var objects: Int
            public var bytes: Int64
            public var copied: Int
            public var resumed: Bool
        }
        public var buckets: [Bucket] = []
        public var grants: Int = 0
        public var configFile: String
        public var previousConfig: String
        public var dryRun: Bool

        enum CodingKeys: String, CodingKey {
            case buckets, grants, configFile = "config_file", previousConfig = "previous_config", dryRun = "dry_run"
        }
    }

    let paths: Paths
    let config: Config
    let target: Target
    let progress: @Sendable (String) -> Void
    /// Objects up to this size are copied in one PUT; larger ones in parts of this size.
    static let partSize: Int64 = 64 << 20

    public init(paths: Paths, config: Config, target: Target, progress: @escaping @Sendable (String) -> Void) {
        self.paths = paths
        self.config = config
        self.target = target
        self.progress = progress
    }

    /// The config the daemon runs with afterwards; validated before anything is copied.
    func clusterConfig() throws -> Config {
        var c = config
        c.engine.kind = "cluster"
        c.engine.masters = target.masters
        c.engine.filer = target.filer
        c.engine.s3Endpoint = target.s3Endpoint
        c.engine.identityFile = target.identityFile
        c.engine.securityFile = target.securityFile
        c.engine.stateBucket = target.stateBucket
        try c.validate(file: "the migration's settings")
        return c
    }

    /// The checks `start` will make with the new settings (masters, a filer that may sign, the S3
    /// server with the identity), so a migration never leaves a config the daemon cannot start with.
    public func checkCluster() async throws {
        try requireEmbedded()
        let engine = try ClusterEngine(paths: paths, config: try clusterConfig(), identity: try EngineIdentity.load(from: target.identityFile),
                                       weedPath: "weed", logger: Logger(label: "migrate"))
        try await engine.start()
    }

    func requireEmbedded() throws {
        guard !config.engine.isCluster else {
            throw DaemonError(.usage, "this daemon already runs on a cluster (engine.kind = \"cluster\" in \(paths.configFile))",
                              fix: "nothing to migrate; `garagetytus bucket list` shows the cluster's buckets")
        }
    }

    public func run(dryRun: Bool) throws -> Report {
        try requireEmbedded()
        let newConfig = try clusterConfig()
        let clusterIdentity = try EngineIdentity.load(from: target.identityFile)
        let registry = try Registry(store: StateStore(path: paths.stateDB))
        let source = try sourceClient()
        let cluster = S3Client(endpoint: URL(string: target.s3Endpoint)!, credentials: S3Credentials(accessKeyID: clusterIdentity.accessKeyID,
                               secretAccessKey: clusterIdentity.secretAccessKey), region: config.region, retry: RetryPolicy(maxAttempts: 4, budget: 60), timeout: 120)

        // 1. Check: the daemon answers, the cluster answers, no bucket name is taken there.
        do { _ = try source.send("GET", operation: "ListBuckets") } catch {
            throw DaemonError(.failed, "cannot read this daemon's buckets through its gateway \(config.gatewayURL): \(error)",
                              fix: "start the daemon first (`garagetytus start`): the migration reads the objects through it")
        }
        let clusterBuckets: Set<String>
        do {
            clusterBuckets = Set(try Self.bucketNames(cluster))
        } catch {
            throw DaemonError(.failed, "the cluster's S3 server \(target.s3Endpoint) does not serve the identity in \(target.identityFile): \(error)",
                              fix: "check --s3-endpoint and --identity-file")
        }
        let shared = SharedState(objects: S3SharedObjects(client: cluster, bucket: target.stateBucket), adminSecret: clusterIdentity.secretAccessKey,
                                 maxStaleness: newConfig.engine.maxStalenessSeconds)
        var known: [String: BucketRecord] = [:]
        var knownGrants: [GrantRecord] = []
        if clusterBuckets.contains(target.stateBucket) {
            let pulled = try shared.pull()
            known = Dictionary(pulled.buckets.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            knownGrants = pulled.grants
        }
        let buckets = registry.snapshot.buckets.values.sorted { $0.name < $1.name }
        var resumed = Set<String>()
        for b in buckets {
            if b.name == target.stateBucket {
                throw DaemonError(.usage, "bucket \(b.name) has the name of the cluster's state bucket", fix: "give --state-bucket another name")
            }
            if let there = known[b.name] {
                guard there.createdAt == b.createdAt else {
                    throw DaemonError(.usage, "the cluster has a bucket \(b.name) of its own (made \(Policy.stamp(there.createdAt)))",
                                      fix: "rename one of them, or empty the cluster's; nothing was copied")
                }
                resumed.insert(b.name)
            } else if clusterBuckets.contains(b.name) {
                throw DaemonError(.usage, "the cluster's S3 server has a bucket \(b.name) already (not garagetytus's)",
                                  fix: "rename one of them; nothing was copied")
            }
        }
        var report = Report(configFile: paths.configFile, previousConfig: paths.configFile + ".embedded", dryRun: dryRun)
        if dryRun {
            for b in buckets {
                let listing = try source.listAll(bucket: b.name)
                report.buckets.append(.init(name: b.name, objects: listing.objects.count, bytes: listing.objects.reduce(0) { $0 + $1.size },
                                            copied: 0, resumed: resumed.contains(b.name)))
            }
            report.grants = try activeGrants(registry).count
            return report
        }

        // 2. Copy: the state bucket, each bucket's record and objects, the active grants.
        if !clusterBuckets.contains(target.stateBucket) { try cluster.createBucket(target.stateBucket) }
        for b in buckets {
            if !resumed.contains(b.name) {
                if !clusterBuckets.contains(b.name) { try cluster.createBucket(b.name) }
                guard try shared.createBucket(b) else { throw DaemonError(.failed, "another daemon made bucket \(b.name) in the cluster meanwhile") }
            }
            report.buckets.append(try copyObjects(of: b.name, from: source, to: cluster, resumed: resumed.contains(b.name)))
        }
        let grants = try activeGrants(registry)
        let knownIDs = Set(knownGrants.map(\.id))
        for g in grants where !knownIDs.contains(g.id) {
            let claim = SlotClaim(grantID: g.id, claimedAt: g.createdAt.timeIntervalSince1970, expiresAt: g.expiresAt.timeIntervalSince1970,
                                  nonce: UUID().uuidString)
            let now = Date().timeIntervalSince1970
            if try shared.claim(SharedState.activeSlots, size: config.grants.maxActive, claim, isFree: { $0.expiresAt <= now }) != nil {
                throw DaemonError(.failed, "the cluster has no room for grant \(g.id): at most \(config.grants.maxActive) active grants",
                                  fix: "revoke grants there or here, then run the migration again (it goes on where it stopped)")
            }
            try shared.createGrant(g)
            progress("grant \(g.id) for bucket \(g.bucket): copied (until \(Policy.stamp(g.expiresAt)))")
        }
        report.grants = grants.count

        // 3. Switch: the old config is kept beside the new one.
        let old = try String(contentsOfFile: paths.configFile, encoding: .utf8)
        try AtomicFile.write(old, to: report.previousConfig, mode: 0o600)
        try AtomicFile.write(newConfig.render(), to: paths.configFile, mode: 0o600)
        return report
    }

    /// Through the running daemon's own gateway, with its admin identity.
    func sourceClient() throws -> S3Client {
        let identity = try EngineIdentity.load(from: paths.identityFile)
        let host = config.listenAddress == "0.0.0.0" ? "127.0.0.1" : config.listenAddress
        let url = URL(string: "\(config.gateway.tls ? "https" : "http")://\(host):\(config.gatewayPort)")!
        let credentials = S3Credentials(accessKeyID: identity.accessKeyID, secretAccessKey: identity.secretAccessKey)
        return S3Client(endpoint: url, region: config.region, retry: RetryPolicy(maxAttempts: 4, budget: 60), timeout: 120,
                        caFile: config.gateway.tls ? config.gateway.tlsCert : nil, credentials: { credentials })
    }

    func activeGrants(_ registry: Registry) throws -> [GrantRecord] {
        let now = Date()
        return try registry.grants().filter { $0.state == .active && $0.expiresAt > now && !$0.secretKey.isEmpty }
    }

    static func bucketNames(_ client: S3Client) throws -> [String] {
        let r = try client.send("GET", operation: "ListBuckets")
        return XMLNode.parse(r.body)?.child("Buckets")?.all("Bucket").compactMap { $0.string("Name") } ?? []
    }
}
