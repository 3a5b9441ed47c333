import Credentials
import Daemon
import Foundation
import Mount
import S3

/// How a `mount` request is turned into a `MountSpec`: from a workspace, or from an endpoint and a bucket.
public struct MountRequest: Sendable {
    public var endpoint: String?
    public var bucket: String?
    public var prefix: String?
    public var region: String?
    public var credentialsFile: String?
    public var cacheDir: String?
    public var readOnly = false
    public var allowOther = false
    public var metadataTTL: Double = 1
    public var ioTimeout: Double = 60
    /// `--cache-size` (500M, 10G, …); nil: the block cache's default share of the free space.
    public var cacheSize: String?
    /// `--no-data-cache`: every read asks the store.
    public var noDataCache = false
    /// `--no-change-feed`: attributes and listings trusted for the metadata TTL only.
    public var noChangeFeed = false
    /// `--xattr`: extended attributes kept in object metadata.
    public var xattr = false
    /// `--ca-file`: CA certificates (PEM) to trust for an `https://` endpoint.
    public var caFile: String?
    public var defaults: AttributeDefaults

    public init(defaults: AttributeDefaults) { self.defaults = defaults }

    /// `[WORKSPACE] DIRECTORY`, validated (nothing is touched yet).
    public func spec(targets: [String], environment env: [String: String] = ProcessInfo.processInfo.environment, paths: Paths) throws -> MountSpec {
        guard ioTimeout >= 1, ioTimeout <= 3600 else { throw DaemonError(.usage, "--io-timeout must be between 1 and 3600 seconds") }
        guard metadataTTL >= 0 else { throw DaemonError(.usage, "--metadata-ttl must not be negative") }
        let dataCache = try dataCacheChoice()
        var spec: MountSpec
        switch targets.count {
        case 2:
            spec = try workspaceSpec(targets[0], mountpoint: targets[1], env: env, paths: paths)
        case 1:
            guard let endpoint, let bucket else {
                throw DaemonError(.usage, "mount needs a workspace or --endpoint and --bucket",
                                  fix: "artifacts mount WORKSPACE DIR, or garagetytus mount --endpoint URL --bucket B DIR")
            }
            spec = try MountSpec(endpoint: try Self.url(endpoint), bucket: bucket, prefix: prefix ?? "", region: region ?? "us-east-1",
                                 mountpoint: targets[0], readOnly: readOnly, allowOther: allowOther, metadataTTL: metadataTTL,
                                 cacheDir: cacheDir, credentialsFile: credentialsFile, defaults: defaults, paths: paths)
        default:
            throw DaemonError(.usage, "mount takes [WORKSPACE] DIRECTORY", fix: "e.g. artifacts mount cases /mnt/work")
        }
        spec.ioTimeout = ioTimeout
        spec.dataCache = dataCache
        spec.followChanges = !noChangeFeed
        spec.extendedAttributes = xattr
        if let caFile {
            guard FileManager.default.isReadableFile(atPath: caFile) else {
                throw DaemonError(.usage, "--ca-file \(caFile.prefix(200)) is not a readable file", fix: "give the PEM file of the CA that signed the endpoint's certificate")
            }
            guard spec.endpoint.scheme == "https" else {
                throw DaemonError(.usage, "--ca-file is for an https:// endpoint, not \(spec.endpoint.absoluteString)", fix: "use https:// or leave --ca-file out")
            }
            spec.caFile = MountSpec.absolute(caFile)
        }
        return spec
    }

    /// `--cache-size` and `--no-data-cache`, checked together.
    func dataCacheChoice() throws -> MountSpec.DataCache {
        if noDataCache {
            guard cacheSize == nil else { throw DaemonError(.usage, "--cache-size and --no-data-cache do not go together", fix: "give one of them") }
            return .off
        }
        guard let cacheSize else { return .on(capacity: nil) }
        guard case .bytes(let n) = try? BucketSpec.parseQuota(cacheSize), n >= 16 << 20 else {
            throw DaemonError(.usage, "--cache-size \(cacheSize.prefix(40)) is not a size of at least 16M", fix: "e.g. --cache-size 10G (binary units), or --no-data-cache")
        }
        return .on(capacity: n)
    }

    /// `--endpoint`: an http(s) URL with a host; `example` is shown when it is not.
    public static func url(_ text: String, example: String = "http://127.0.0.1:3900") throws -> URL {
        guard let url = URL(string: text), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw DaemonError(.usage, "--endpoint \(text.prefix(80)) is not an http(s) URL", fix: "e.g. --endpoint \(example)")
        }
        return url
    }

    /// `mount WORKSPACE DIR`: storage from the workspace (or ARTIFACTS_S3_*), credentials from its
    /// cache (followed by the live mount), else ARTIFACTS_TOKEN or ARTIFACTS_S3_ACCESS_KEY_ID/SECRET_ACCESS_KEY.
    func workspaceSpec(_ name: String, mountpoint: String, env: [String: String], paths: Paths) throws -> MountSpec {
        if endpoint != nil || bucket != nil || credentialsFile != nil {
            throw DaemonError(.usage, "--endpoint, --bucket and --credentials-file are not for a workspace mount", fix: "artifacts mount \(name) \(mountpoint)")
        }
        let w = WorkspaceHost(paths: paths)
        let record = try w.recordOrEnvironment(name, env: env)
        let cached = try w.store.loadCredentials(name)
        let fromEnv = try WorkspaceHost.environmentToken(env).map { S3Credentials(accessKeyID: $0.accessKeyID, secretAccessKey: $0.secretAccessKey) }
            ?? WorkspaceHost.environmentCredentials(env)
        if cached == nil && fromEnv == nil {
            throw DaemonError(.usage, "no credentials for workspace \(name)",
                              fix: "cache them with `artifacts storage set --workspace \(name) --access-key-id AK --secret-stdin` (or --token T), or set ARTIFACTS_S3_ACCESS_KEY_ID and ARTIFACTS_S3_SECRET_ACCESS_KEY (or ARTIFACTS_TOKEN)")
        }
        var spec = try MountSpec(endpoint: try Self.url(record.endpoint), bucket: record.bucket, prefix: prefix ?? record.prefix,
                                 region: region ?? record.region, mountpoint: mountpoint, readOnly: readOnly || record.readOnly == true, allowOther: allowOther,
                                 metadataTTL: metadataTTL, cacheDir: cacheDir, credentialsFile: cached != nil ? w.store.credentialsPath(name) : nil,
                                 defaults: defaults, paths: paths, credentials: cached == nil ? fromEnv : nil)
        spec.workspace = name
        spec.switchCredentialsOnRejection = record.kind == .byo
        return spec
    }
}
