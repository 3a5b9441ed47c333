import Credentials
import Daemon
import Foundation
import Logging
import Mount
import S3
#if canImport(Glibc)
import Glibc
#endif

/// A validated `mount` request: where, what, with which credentials, and the files that belong to it.
public struct MountSpec {
    public let endpoint: URL
    public let bucket: String
    public let prefix: String
    public let region: String
    public let mountpoint: String
    public let readOnly: Bool
    public let allowOther: Bool
    /// Attributes of objects without metadata.
    public let defaults: AttributeDefaults
    /// When the credentials expire, when the credentials file says so (shown in `.stats`).
    public let credentialExpiry: Date?
    public let metadataTTL: Double
    public let cacheDir: String
    public let credentials: S3Credentials
    /// The workspace this mount is of, if any (for `workspace list` / `status`).
    public var workspace: String?
    /// Keys of your own S3 service: kept while they work, replaced from the file once refused.
    public var switchCredentialsOnRejection = false
    /// The file the credentials came from: the mount follows it (a rotation rewrites it).
    public let credentialsFile: String?
    public let paths: Paths
    /// How a mount retries a failed request: 5 attempts, waiting 0.5–1, 1–2, 2–4 and 2.5–5 s, so
    /// 6 to 12 s in all. The engine refuses writes for a few seconds after a restart, and after a
    /// full disk frees (until its volume server's next 5 s heartbeat offers room for new volumes);
    /// a mount rides that out instead of failing the `close`.
    public static let retry = RetryPolicy(maxAttempts: 5, baseDelay: 1, maxDelay: 5, budget: 60, fixedFraction: 0.5)

    /// Seconds one request to the store may take (`--io-timeout`).
    public var ioTimeout: Double = 60

    /// Whether file contents are kept on disk across reads and mounts, and how much of them.
    public enum DataCache: Sendable, Equatable {
        case off
        /// nil: a quarter of the free space under the cache's directory.
        case on(capacity: Int64?)
    }
    public var dataCache = DataCache.on(capacity: nil)
    /// Whether the mount follows the endpoint's change feed, when it has one.
    public var followChanges = true
    /// CA certificates (PEM) trusted for an `https://` endpoint instead of the system's.
    public var caFile: String?
    /// Whether extended attributes are kept (`--xattr`).
    public var extendedAttributes = false

    public init(endpoint: URL, bucket: String, prefix: String, region: String, mountpoint: String, readOnly: Bool, allowOther: Bool,
         metadataTTL: Double, cacheDir: String?, credentialsFile: String?, defaults: AttributeDefaults, paths: Paths,
         credentials given: S3Credentials? = nil) throws {
        guard !bucket.isEmpty, !bucket.contains("/") else { throw DaemonError(.usage, "--bucket \(bucket) is not a bucket name") }
        self.endpoint = endpoint
        self.bucket = bucket
        self.prefix = prefix
        self.region = region
        self.mountpoint = Self.absolute(mountpoint)
        self.readOnly = readOnly
        self.allowOther = allowOther
        self.metadataTTL = metadataTTL
        self.defaults = defaults
        self.paths = paths
        self.cacheDir = cacheDir.map(Self.absolute) ?? paths.dataDir + "/cache/" + Self.slug(self.mountpoint)
        self.credentialsFile = given == nil ? credentialsFile.map(Self.absolute) : nil
        if let given {
            (credentials, credentialExpiry) = (given, nil)
        } else {
            (credentials, credentialExpiry) = try Self.loadCredentials(file: credentialsFile)
        }
    }

    public var source: String { "s3://\(bucket)/\(prefix) at \(endpoint.absoluteString)" }
    public var registryFile: String { Self.registryFile(for: mountpoint, paths: paths) }
    public var logFile: String { paths.logDir + "/mount-" + Self.slug(mountpoint) + ".log" }
    /// What HEADs said about this source's objects, kept across mounts (see `AttributeCache`).
    public var attributeCacheFile: String {
        paths.dataDir + "/attributes/" + String(Self.slug(endpoint.absoluteString + " " + bucket).prefix(200)) + ".sqlite"
    }

    /// Where this source's file contents are kept across mounts (see `BlockCache`).
    public var blockCacheDirectory: String {
        paths.dataDir + "/blocks/" + String(Self.slug(endpoint.absoluteString + " " + bucket).prefix(200))
    }

    public static func registryFile(for mountpoint: String, paths: Paths) -> String { MountRegistry.directory(paths) + "/" + slug(mountpoint) + ".json" }

    public static func slug(_ path: String) -> String {
        let s = path.map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
        return s.isEmpty ? "_" : s
    }

    public static func absolute(_ path: String) -> String {
        var p = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        return (p as NSString).standardizingPath
    }

    /// From the file (0600 JSON: `access_key_id`/`secret_access_key`, or a grant's `access_key`/
    /// `secret_key`; optional `session_token` and `expires_at` in RFC 3339 UTC), else from the
    /// AWS_* environment; with when they expire, if that is known.
    public static func loadCredentials(file: String?) throws -> (S3Credentials, Date?) {
        if let file {
            let data: Data
            do { data = try SecretFile.read(file) } catch let e as SecretFileError {
                throw DaemonError(.corrupt, "credentials file \(e.path) \(e.problem)", fix: "chmod 600 '\(file)'")
            } catch {
                throw DaemonError(.usage, "cannot read credentials file \(file)", fix: "check the path")
            }
            guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let ak = (obj["access_key_id"] ?? obj["access_key"]) as? String,
                  let sk = (obj["secret_access_key"] ?? obj["secret_key"]) as? String, !ak.isEmpty, !sk.isEmpty else {
                throw DaemonError(.corrupt, "credentials file \(file) must be JSON with access_key_id and secret_access_key")
            }
            var expiry: Date?
            if let text = obj["expires_at"] as? String {
                guard let d = UTCTime.parseISO8601(text) else {
                    throw DaemonError(.corrupt, "credentials file \(file): expires_at \(text.prefix(40)) is not an RFC 3339 UTC time",
                                      fix: "e.g. \"expires_at\": \"2026-11-24T10:00:00Z\"")
                }
                expiry = d
            }
            return (S3Credentials(accessKeyID: ak, secretAccessKey: sk, sessionToken: obj["session_token"] as? String), expiry)
        }
        let env = ProcessInfo.processInfo.environment
        guard let ak = env["AWS_ACCESS_KEY_ID"], let sk = env["AWS_SECRET_ACCESS_KEY"], !ak.isEmpty, !sk.isEmpty else {
            throw DaemonError(.usage, "no credentials for the mount",
                              fix: "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass --credentials-file FILE (0600 JSON)")
        }
        return (S3Credentials(accessKeyID: ak, secretAccessKey: sk, sessionToken: env["AWS_SESSION_TOKEN"]), nil)
    }

    /// The mountpoint must be an empty directory that nothing is mounted on; a stale mount left by a
    /// killed mount process (ENOTCONN) is cleaned up first, and `log` says so.
    public func checkMountpoint(log: Logger) throws {
        var st = stat()
        if stat(mountpoint, &st) != 0 {
            if errno == ENOTCONN {
                umount2(mountpoint, Int32(MNT_DETACH))
                log.notice("recovered a stale mount on \(mountpoint)")
                return try checkMountpoint(log: log)
            }
            if errno == ENOENT {
                throw DaemonError(.usage, "mountpoint \(mountpoint) does not exist", fix: "create it: mkdir -p \(mountpoint)")
            }
            throw DaemonError(.environment, "cannot use \(mountpoint): \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { throw DaemonError(.usage, "mountpoint \(mountpoint) is not a directory") }
        if Self.isMounted(mountpoint) {
            // Ours, and its process is gone (kill -9): the kernel may still answer stat from its
            // cache, but the mount is dead. Clean it up and go on.
            let pid = try MountControl.registeredPID(mountpoint, paths: paths)
            if Self.mountType(mountpoint) == "fuse.garagetytus" && !(pid.map(Sentinel.processIsAlive) ?? false) {
                umount2(mountpoint, Int32(MNT_DETACH))
                unlink(registryFile)
                log.notice("recovered a stale mount on \(mountpoint)")
                return try checkMountpoint(log: log)
            }
            throw DaemonError(.usage, "\(mountpoint) is already mounted", fix: "run garagetytus unmount \(mountpoint) first")
        }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: mountpoint)) ?? []
        guard entries.isEmpty else {
            throw DaemonError(.usage, "mountpoint \(mountpoint) is not empty", fix: "mount on an empty directory")
        }
    }

    /// One request proves the endpoint, the bucket and the credentials before anything is mounted.
    public func checkAccess() throws {
        let client = S3Client(endpoint: endpoint, region: region, retry: RetryPolicy(maxAttempts: 2, baseDelay: 0.2, budget: 10),
                              timeout: 10, caFile: caFile, credentials: { [credentials] in credentials })
        do {
            _ = try client.list(bucket: bucket, prefix: prefix, maxKeys: 1)
        } catch let e as S3Error {
            switch e.kind {
            case .accessDenied:
                throw DaemonError(.failed, "the endpoint refused the credentials: \(e)", fix: "check the access key and secret")
            case .notFound:
                throw DaemonError(.failed, "no such bucket \(bucket) at \(endpoint.absoluteString): \(e)", fix: "check --bucket, or create the bucket")
            case .transport:
                throw DaemonError(.environment, "cannot reach \(endpoint.absoluteString): \(e.message)", fix: "check --endpoint and that the service runs")
            default:
                throw DaemonError(.failed, "the endpoint refused to list \(bucket): \(e)")
            }
        }
    }

    /// Whether something is mounted exactly at `path` (from /proc/self/mountinfo).
    public static func isMounted(_ path: String) -> Bool { mountType(path) != nil }

    /// The filesystem type mounted exactly at `path` (the first of stacked mounts), or nil.
    public static func mountType(_ path: String) -> String? { MountTable.entries(at: path).first?.fsType }
}
