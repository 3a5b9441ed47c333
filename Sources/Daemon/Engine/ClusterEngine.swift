import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import S3

/// An existing SeaweedFS cluster as the engine (`[engine] kind = "cluster"`): the daemon runs no
/// engine of its own, and speaks to the cluster's S3 server with the cluster's admin identity,
/// to a filer for listings with metadata and the change feed, and to the masters through
/// `weed shell` for repair, vacuum and free space.
final class ClusterEngine: DaemonEngine, @unchecked Sendable {
    // SAFETY: every stored property is immutable after init; HTTPClient and S3Client are thread-safe.
    let kind = "seaweedfs-cluster"
    let s3Endpoint: URL
    let s3Socket: String? = nil
    let client: S3Client
    let probe: S3Client
    let config: Config.Engine
    let paths: Paths
    let weedPath: String
    let logger: Logger
    /// The cluster's filer signing keys (from `security_file`), when it has them.
    let filerKeys: (read: String?, write: String?)
    private let http: HTTPClient

    init(paths: Paths, config: Config, identity: EngineIdentity, weedPath: String, logger: Logger) throws {
        self.paths = paths
        self.config = config.engine
        self.weedPath = weedPath
        self.logger = logger
        guard let url = URL(string: config.engine.s3Endpoint) else {
            throw DaemonError(.corrupt, "engine.s3_endpoint \(config.engine.s3Endpoint) is not a URL", fix: "edit \(paths.configFile)")
        }
        s3Endpoint = url
        let creds = S3Credentials(accessKeyID: identity.accessKeyID, secretAccessKey: identity.secretAccessKey)
        client = S3Client(endpoint: url, credentials: creds, region: config.region, retry: RetryPolicy(maxAttempts: 3, budget: 10), timeout: 30)
        probe = S3Client(endpoint: url, credentials: creds, region: config.region, retry: .none, timeout: 3)
        filerKeys = try Self.filerKeys(securityFile: config.engine.securityFile)
        http = HTTPClient(eventLoopGroupProvider: .singleton)
    }

    deinit { try? http.syncShutdown() }

    /// The `[jwt.filer_signing]` keys of the cluster's `security.toml`, if one is configured.
    static func filerKeys(securityFile: String) throws -> (read: String?, write: String?) {
        guard !securityFile.isEmpty else { return (nil, nil) }
        let text: String
        do {
            text = try String(contentsOfFile: securityFile, encoding: .utf8)
        } catch {
            throw DaemonError(.environment, "cannot read the cluster's security file \(securityFile): \(error.localizedDescription)",
                              fix: "check engine.security_file in garagetytus.toml and the file's permissions")
        }
        guard let tables = try? TOMLDocument.parse(text) else {
            throw DaemonError(.corrupt, "the cluster's security file \(securityFile) is not TOML", fix: "give SeaweedFS's security.toml of the cluster")
        }
        func key(_ table: String) -> String? {
            if case let .string(k)? = tables[table]?["key"]?.value, !k.isEmpty { return k }
            return nil
        }
        return (key("jwt.filer_signing.read"), key("jwt.filer_signing"))
    }

    /// Where `weed` finds the cluster's `security.toml` (its directory), else an empty directory.
    var weedConfigDir: String {
        config.securityFile.isEmpty ? paths.engineDir : (config.securityFile as NSString).deletingLastPathComponent
    }

    /// `weed` wants `host:port.grpcPort` where the gRPC port is not port + 10000; these are.
    var weedShell: WeedShell {
        WeedShell(weedPath: weedPath, master: config.masters[0], filer: config.filer, configDir: weedConfigDir)
    }

    /// Nothing to start: checks that each part of the cluster answers, and says which does not.
    func start() async throws {
        try FileManager.default.createDirectory(atPath: paths.engineDir, withIntermediateDirectories: true)
        var masterAnswers = false
        var lastMasterFailure = ""
        for master in config.masters {
            switch await get("http://\(master)/cluster/status") {
            case .success: masterAnswers = true
            case let .failure(why): lastMasterFailure = "\(master): \(why)"
            }
            if masterAnswers { break }
        }
        guard masterAnswers else {
            throw DaemonError(.failed, "the cluster's master does not answer (\(lastMasterFailure))",
                              fix: "check engine.masters in \(paths.configFile) and that `weed master` runs there")
        }
        if case let .failure(why) = await get("http://\(config.filer)/?limit=1", filer: true) {
            throw DaemonError(.failed, "the cluster's filer \(config.filer) does not answer (\(why))",
                              fix: "check engine.filer in \(paths.configFile) and that `weed filer` runs there")
        }
        if let why = await probeFailure() {
            throw DaemonError(.failed, "the cluster's S3 server \(s3Endpoint) does not serve the admin identity (\(why))",
                              fix: "check engine.s3_endpoint and engine.identity_file, and that `weed s3` runs with that identity as an admin")
        }
    }

    func stop() async {}

    /// A plain GET (signed for the filer when it has keys): success, or why not.
    private func get(_ url: String, filer: Bool = false) async -> Result<Void, DaemonError> {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        // The filer's own client signs (its read key; none when the filer has no keys).
        if filer { try? self.filer(http: http)?.authorize(&request.headers) }
        do {
            let response = try await http.execute(request, timeout: .seconds(5))
            _ = try await response.body.collect(upTo: 4 << 20)
            guard response.status == .ok else { return .failure(DaemonError(.failed, "HTTP \(response.status.code)")) }
            return .success(())
        } catch {
            return .failure(DaemonError(.failed, "\(error)"))
        }
    }

    /// Free space of the cluster, in per cent of its volume slots (the master's topology).
    func freePercent() async -> Double? {
        for master in config.masters {
            var request = HTTPClientRequest(url: "http://\(master)/dir/status")
            request.headers.add(name: "Accept", value: "application/json")
            guard let response = try? await http.execute(request, timeout: .seconds(5)), response.status == .ok,
                  let body = try? await response.body.collect(upTo: 16 << 20),
                  let pct = Self.freePercent(dirStatus: Data(buffer: body)) else { continue }
            return pct
        }
        return nil
    }

    /// `Free / Max` volume slots of a master's `/dir/status` answer, in per cent.
    static func freePercent(dirStatus: Data) -> Double? {
        guard let doc = try? JSONSerialization.jsonObject(with: dirStatus) as? [String: Any],
              let topology = doc["Topology"] as? [String: Any],
              let max = (topology["Max"] as? NSNumber)?.doubleValue, let free = (topology["Free"] as? NSNumber)?.doubleValue,
              max > 0 else { return nil }
        return free / max * 100
    }

    /// The cluster's shared buckets and grants (ADR 0004), in its state bucket, made if missing.
    func sharedState(adminSecret: String) async throws -> SharedState {
        let client = client, bucket = config.stateBucket
        try await offloaded {
            do {
                _ = try client.list(bucket: bucket, maxKeys: 1)
            } catch let e as S3Error where e.kind == .notFound {
                // Another daemon may make it at the same moment: then it is there to be read.
                do { try client.createBucket(bucket) } catch { _ = try client.list(bucket: bucket, maxKeys: 1) }
            }
        }
        return SharedState(objects: S3SharedObjects(client: client, bucket: bucket), adminSecret: adminSecret,
                           maxStaleness: config.maxStalenessSeconds)
    }

    func filer(http: HTTPClient) -> FilerClient? { FilerClient(address: config.filer, client: http, keys: filerKeys) }

    func repair(budget: Duration) async -> [RepairStep] { await weedShell.repair(budget: budget) }

    func reclaim(budget: Duration) async -> String { await weedShell.reclaim(budget: budget) }

    var currentPID: Int32? { nil }
    /// One cluster for the daemon's life.
    var generation: Int32? { 1 }

    func tailRequest(timeAgo: Double, output: Int32) -> (SpawnRequest, generation: Int32)? {
        let args = ["-config_dir=\(weedConfigDir)", "filer.meta.tail", "-filer=\(config.filer)", "-pathPrefix=/buckets/",
                    "-timeAgo=\(Int64(max(timeAgo, 0.001) * 1000))ms"]
        var request = SpawnRequest(path: weedPath, arguments: args,
                                   environment: ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": paths.engineDir],
                                   isolation: .none, workingDirectory: paths.engineDir, umask: 0o077)
        request.outputFD = output
        request.errorFD = -1
        request.parentDeathSignal = SIGKILL
        return (request, 1)
    }
}
