import Foundation

/// `garagetytus.toml`: ports, thresholds and engine settings. Every key has a default; unknown keys
/// and out-of-range values are errors naming the file and line.
public struct Config: Sendable, Equatable {
    /// Address every listener binds to.
    public var listenAddress = "127.0.0.1"
    /// Prometheus metrics and health (`/metrics`, `/healthz`, `/readyz`).
    public var metricsPort = 3904
    /// The S3 front door every client talks to.
    public var gatewayPort = 3900
    /// The region clients sign for; requests signed for another region are refused.
    public var region = "us-east-1"
    public var grants = Grants()
    public var watchdog = Watchdog()
    public var gateway = Gateway()

    /// Limits that keep slow or idle clients (slowloris) from holding the front door.
    public struct Gateway: Sendable, Equatable {
        /// Connections served at once; more wait in the listen queue.
        public var maxConnections = 1024
        /// A new connection's first request head must arrive within this.
        public var headerTimeoutSeconds = 20.0
        /// A connection with nothing read or written for this long is closed.
        public var idleTimeoutSeconds = 120.0
        /// Multipart uploads neither completed nor aborted after this many hours are aborted (their
        /// parts count against the quota and fill the disk until then).
        public var abortUploadsAfterHours = 24.0
        /// Seconds between scans of every bucket's usage (objects and unfinished uploads).
        public var usageRescanSeconds = 30
        /// PEM certificate chain and private key: with both, the gateway and the metrics port
        /// serve HTTPS (required when `listen_address` is not loopback).
        public var tlsCert = ""
        public var tlsKey = ""
        public var tls: Bool { !tlsCert.isEmpty }
    }

    /// Whether the listeners are reachable from this host only.
    public var loopbackOnly: Bool { listenAddress.hasPrefix("127.") || listenAddress == "::1" }
    /// The gateway's URL as this host's clients use it.
    public var gatewayURL: String { "\(gateway.tls ? "https" : "http")://\(listenAddress):\(gatewayPort)" }
    /// Where `/metrics` and the health checks listen: plain HTTP, so on loopback even when the
    /// gateway serves other hosts (probes run on this host).
    public var metricsAddress: String { loopbackOnly ? listenAddress : "127.0.0.1" }

    public struct Grants: Sendable, Equatable {
        public var maxActive = 20
        public var maxMintsPerHour = 50
    }
    public var engine = Engine()

    public struct Watchdog: Sendable, Equatable {
        public var intervalSeconds = 10.0
        /// Below this free percentage the daemon turns read-only.
        public var roBelowPct = 10.0
        /// Above this free percentage a read-only daemon turns read-write again.
        public var rwAbovePct = 15.0
    }

    public struct Engine: Sendable, Equatable {
        /// `embedded`: the daemon runs its own single-node `weed mini`; `cluster`: it runs no
        /// engine and uses an existing SeaweedFS cluster (its masters, a filer, its S3 server).
        public var kind = "embedded"
        public var isCluster: Bool { kind == "cluster" }
        /// The cluster's masters (`host:port`): `weed shell` (repair, vacuum) and free space.
        public var masters: [String] = []
        /// A filer of the cluster (`host:port`; its gRPC port is port + 10000).
        public var filer = ""
        /// The cluster's S3 server (`http://host:port` or `https://…`).
        public var s3Endpoint = ""
        /// The cluster's admin S3 identity: JSON `{"access_key_id": …, "secret_access_key": …}`, 0600.
        public var identityFile = ""
        /// The cluster's SeaweedFS `security.toml` (its filer signing keys, TLS), when it has one:
        /// the daemon signs its filer requests with those keys and runs `weed` with it.
        public var securityFile = ""
        /// The bucket of the cluster's S3 server where its daemons share buckets and grants
        /// (ADR 0004); no grant can name it.
        public var stateBucket = "garagetytus-state"
        /// How long a daemon that cannot read the shared state keeps serving the grants it knows.
        public var maxStalenessSeconds = 30.0
        /// `weed` binary; empty means: look it up on PATH.
        public var weedPath = ""
        public var masterPort = 3910
        public var masterGrpcPort = 13910
        public var volumePort = 3911
        public var volumeGrpcPort = 13911
        public var filerPort = 3912
        public var filerGrpcPort = 13912
        public var s3Port = 3913
        public var s3GrpcPort = 13913
        public var adminPort = 3914
        public var adminGrpcPort = 13914
        /// How long `weed` may take to exit on SIGTERM before it is killed.
        public var stopGraceSeconds = 1.0
        /// How long to wait for the engine to answer S3 requests after spawning it.
        public var readyTimeoutSeconds = 30.0
        /// `sealed`: the engine runs in a network namespace of its own and the daemon reaches it
        /// through a Unix socket (ADR 0003); `none`: its ports are on the host's loopback, open to
        /// every local user (only for hosts that allow no namespaces, e.g. some containers).
        public var isolation = "sealed"
        public var sealed: Bool { isolation == "sealed" }
    }

    public init() {}

    /// Every port with its config key, for validation and "port in use" messages.
    public var namedPorts: [(key: String, port: Int)] {
        [("gateway_port", gatewayPort), ("metrics_port", metricsPort),
         ("engine.master_port", engine.masterPort), ("engine.master_grpc_port", engine.masterGrpcPort),
         ("engine.volume_port", engine.volumePort), ("engine.volume_grpc_port", engine.volumeGrpcPort),
         ("engine.filer_port", engine.filerPort), ("engine.filer_grpc_port", engine.filerGrpcPort),
         ("engine.s3_port", engine.s3Port), ("engine.s3_grpc_port", engine.s3GrpcPort),
         ("engine.admin_port", engine.adminPort), ("engine.admin_grpc_port", engine.adminGrpcPort)]
    }
}

extension Config {
    /// Checks ranges and relations between values.
    public func validate(file: String) throws {
        func bad(_ what: String) -> DaemonError {
            DaemonError(.corrupt, "\(file): \(what)", fix: "edit the file and try again")
        }
        guard listenAddress == "127.0.0.1" || listenAddress == "::1" || listenAddress == "0.0.0.0" || isIPv4(listenAddress) else {
            throw bad("listen_address \"\(listenAddress)\" is not an IPv4 address")
        }
        var seen: [Int: String] = [:]
        for (key, port) in namedPorts {
            guard (1...65535).contains(port) else { throw bad("\(key) = \(port) is not a port (1–65535)") }
            if let other = seen[port] { throw bad("\(key) and \(other) are both \(port); every port must differ") }
            seen[port] = key
        }
        guard !region.isEmpty, region.utf8.count <= 64, region.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }) else {
            throw bad("s3_region \"\(region)\" must be 1–64 characters of a-z, 0-9 and '-'")
        }
        guard (1...10_000).contains(grants.maxActive), (1...100_000).contains(grants.maxMintsPerHour) else {
            throw bad("grants.max_active must be 1–10000 and grants.max_mints_per_hour 1–100000")
        }
        guard (1...100_000).contains(gateway.maxConnections) else {
            throw bad("gateway.max_connections = \(gateway.maxConnections) must be between 1 and 100000")
        }
        guard (0.5...600).contains(gateway.headerTimeoutSeconds), (1...3600).contains(gateway.idleTimeoutSeconds) else {
            throw bad("gateway.header_timeout_seconds must be 0.5–600 and gateway.idle_timeout_seconds 1–3600")
        }
        guard gateway.abortUploadsAfterHours >= 0.001 && gateway.abortUploadsAfterHours <= 24 * 365 else {
            throw bad("gateway.abort_uploads_after_hours = \(gateway.abortUploadsAfterHours) must be between 0.001 and 8760")
        }
        guard gateway.tlsCert.isEmpty == gateway.tlsKey.isEmpty else {
            throw bad("gateway.tls_cert and gateway.tls_key go together: give both (HTTPS) or neither (HTTP)")
        }
        guard gateway.tlsCert.isEmpty || (gateway.tlsCert.hasPrefix("/") && gateway.tlsKey.hasPrefix("/")) else {
            throw bad("gateway.tls_cert and gateway.tls_key must be absolute paths of PEM files")
        }
        guard loopbackOnly || gateway.tls else {
            throw bad("listen_address \"\(listenAddress)\" is reachable from other hosts: plain HTTP stays on loopback; set gateway.tls_cert and gateway.tls_key (PEM) to serve HTTPS there")
        }
        guard (1...3600).contains(gateway.usageRescanSeconds) else {
            throw bad("gateway.usage_rescan_seconds = \(gateway.usageRescanSeconds) must be between 1 and 3600")
        }
        guard watchdog.intervalSeconds >= 0.05 && watchdog.intervalSeconds <= 3600 else {
            throw bad("watchdog.interval_seconds = \(watchdog.intervalSeconds) must be between 0.05 and 3600")
        }
        guard watchdog.roBelowPct > 0, watchdog.rwAbovePct <= 100, watchdog.roBelowPct < watchdog.rwAbovePct else {
            throw bad("watchdog thresholds must satisfy 0 < ro_below_pct < rw_above_pct <= 100 (got \(watchdog.roBelowPct) and \(watchdog.rwAbovePct))")
        }
        guard engine.stopGraceSeconds >= 0 && engine.stopGraceSeconds <= 120 else {
            throw bad("engine.stop_grace_seconds must be between 0 and 120")
        }
        guard engine.readyTimeoutSeconds > 0 && engine.readyTimeoutSeconds <= 600 else {
            throw bad("engine.ready_timeout_seconds must be between 0 and 600")
        }
        guard ["sealed", "none"].contains(engine.isolation) else {
            throw bad("engine.isolation = \"\(engine.isolation.prefix(40))\" must be \"sealed\" or \"none\"")
        }
        guard ["embedded", "cluster"].contains(engine.kind) else {
            throw bad("engine.kind = \"\(engine.kind.prefix(40))\" must be \"embedded\" or \"cluster\"")
        }
        if engine.isCluster { try validateCluster(bad) }
    }

    /// A cluster's addresses: what `start` would otherwise find only by failing to reach them.
    private func validateCluster(_ bad: (String) -> DaemonError) throws {
        guard !engine.masters.isEmpty else { throw bad("engine.masters must list the cluster's master(s), e.g. [\"10.77.0.1:9333\"]") }
        for m in engine.masters where Self.hostPort(m) == nil {
            throw bad("engine.masters: \"\(m.prefix(80))\" is not host:port")
        }
        guard Self.hostPort(engine.filer) != nil else { throw bad("engine.filer = \"\(engine.filer.prefix(80))\" is not host:port") }
        guard let url = URL(string: engine.s3Endpoint), ["http", "https"].contains(url.scheme ?? ""), url.host?.isEmpty == false,
              url.path.isEmpty || url.path == "/", url.query == nil else {
            throw bad("engine.s3_endpoint = \"\(engine.s3Endpoint.prefix(80))\" must be http://host:port or https://host:port")
        }
        guard engine.identityFile.hasPrefix("/") else {
            throw bad("engine.identity_file must be the absolute path of the cluster's admin S3 identity (JSON, mode 0600)")
        }
        guard (try? BucketSpec.checkName(engine.stateBucket)) != nil else {
            throw bad("engine.state_bucket = \"\(engine.stateBucket.prefix(80))\" is not a bucket name (3–63 of a-z, 0-9, '-', '.')")
        }
        guard engine.maxStalenessSeconds >= 1 && engine.maxStalenessSeconds <= 3600 else {
            throw bad("engine.max_staleness_seconds must be between 1 and 3600")
        }
        guard engine.securityFile.isEmpty || engine.securityFile.hasPrefix("/") else {
            throw bad("engine.security_file must be an absolute path (the cluster's security.toml) or empty")
        }
    }

    /// Host and port of `host:port` (an IPv6 host in brackets), nil when it is not one.
    static func hostPort(_ s: String) -> (host: String, port: Int)? {
        guard let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        let host = String(s[..<colon])
        guard !host.isEmpty, !host.contains("/"), !host.contains(" ") else { return nil }
        return (host, port)
    }

    /// The ports that must be free on the host: a sealed engine's ports exist only in its own
    /// network namespace, and a cluster's are on the cluster's hosts.
    public var hostPorts: [(key: String, port: Int)] {
        engine.sealed || engine.isCluster ? namedPorts.filter { !$0.key.hasPrefix("engine.") } : namedPorts
    }

    private func isIPv4(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { p in
            !p.isEmpty && p.count <= 3 && p.allSatisfy(\.isNumber) && (Int(p) ?? 256) <= 255
        }
    }

}
