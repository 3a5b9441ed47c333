import Credentials
import Daemon
import Foundation
import S3

/// Keys of your own S3 service as the user gives them: flags, standard input or the environment.
public struct GivenKeys: Sendable {
    public var accessKeyID: String?
    public var secret: String?
    /// Reads the secret from standard input; called only once the rest of the request is valid.
    public var readSecret: (@Sendable () -> String)?

    public init(accessKeyID: String? = nil, secret: String? = nil, readSecret: (@Sendable () -> String)? = nil) {
        (self.accessKeyID, self.secret, self.readSecret) = (accessKeyID, secret, readSecret)
    }

    public var isEmpty: Bool { accessKeyID == nil && secret == nil && readSecret == nil }

    /// The keys, from what was given or ARTIFACTS_S3_ACCESS_KEY_ID / ARTIFACTS_S3_SECRET_ACCESS_KEY, validated.
    public func resolve(env: [String: String]) throws -> S3Credentials {
        if secret != nil && readSecret != nil { throw DaemonError(.usage, "give the secret either with --secret-access-key or --secret-stdin, not both") }
        let sk = readSecret.map { $0().trimmingCharacters(in: .whitespacesAndNewlines) } ?? secret
        guard let ak = accessKeyID ?? env["ARTIFACTS_S3_ACCESS_KEY_ID"], let sk = sk ?? env["ARTIFACTS_S3_SECRET_ACCESS_KEY"],
              !ak.isEmpty, !sk.isEmpty else {
            throw DaemonError(.usage, "no keys given",
                              fix: "pass --access-key-id with --secret-access-key or --secret-stdin, or set ARTIFACTS_S3_ACCESS_KEY_ID and ARTIFACTS_S3_SECRET_ACCESS_KEY")
        }
        guard ak.utf8.count <= 256, sk.utf8.count <= 1024, (ak + sk).unicodeScalars.allSatisfy({ $0.value > 32 && $0.value < 127 }) else {
            throw DaemonError(.usage, "the keys must be printable ASCII without spaces")
        }
        return S3Credentials(accessKeyID: ak, secretAccessKey: sk)
    }
}

/// What `workspace create` asks for: managed on the local daemon (no endpoint), or on your own S3.
public struct NewWorkspace: Sendable {
    public var name: String
    /// A managed workspace's bucket, by default as `garagetytus bucket create`'s examples: a week, 10 GiB.
    public var ttl = NewWorkspace.defaultTTL
    public var quota = NewWorkspace.defaultQuota
    public static let defaultTTL = "7d"
    public static let defaultQuota = "10G"
    public var confirmed = false
    public var endpoint: String?
    public var bucket: String?
    public var region: String?
    public var prefix: String?
    public var keys = GivenKeys()

    public init(name: String) { self.name = name }
}

extension WorkspaceHost {
    /// Creates a workspace and caches its credentials: for a managed one the daemon makes the
    /// bucket and a grant (and keeps it renewed); for your own S3 one request checks the keys first.
    public func create(_ n: NewWorkspace, env: [String: String] = ProcessInfo.processInfo.environment) throws -> WorkspaceRecord {
        try WorkspaceStore.checkName(n.name)
        if store.exists(n.name) { throw DaemonError(.usage, "workspace \(n.name) already exists", fix: "see `artifacts workspace show \(n.name)`") }
        let now = UTCTime.iso8601Seconds(Date())
        let (record, creds): (WorkspaceRecord, CachedCredentials)
        if let endpoint = n.endpoint ?? env["ARTIFACTS_S3_ENDPOINT"] {
            let url = try MountRequest.url(endpoint, example: "https://s3.example.com")
            guard let bucket = n.bucket ?? env["ARTIFACTS_S3_BUCKET"], !bucket.isEmpty else {
                throw DaemonError(.usage, "a workspace on your own S3 needs --bucket", fix: "add --bucket NAME (or set ARTIFACTS_S3_BUCKET)")
            }
            let keys = try n.keys.resolve(env: env)
            let region = n.region ?? env["ARTIFACTS_S3_REGION"] ?? "us-east-1"
            try Self.check(endpoint: url, bucket: bucket, region: region, credentials: keys)
            record = WorkspaceRecord(name: n.name, kind: .byo, endpoint: endpoint, bucket: bucket, region: region,
                                     prefix: n.prefix ?? env["ARTIFACTS_S3_PREFIX"] ?? "", createdAt: now)
            creds = CachedCredentials(accessKeyID: keys.accessKeyID, secretAccessKey: keys.secretAccessKey, source: "workspace create")
        } else {
            if !n.keys.isEmpty || n.bucket != nil {
                throw DaemonError(.usage, "keys and --bucket are for a workspace on your own S3", fix: "add --endpoint URL, or leave them out for a managed workspace")
            }
            let bucket = n.name.count >= 3 ? n.name : "ws-" + n.name
            _ = try BucketSpec(name: bucket, ttl: n.ttl, quota: n.quota, confirmed: n.confirmed)
            guard let status = control.status(), status.running else {
                throw DaemonError(.notRunning, "a managed workspace needs the local daemon, which is not running",
                                  fix: "start it with `garagetytus start`, or give --endpoint and --bucket for your own S3")
            }
            _ = try control.json("POST", "/v1/buckets", body: ["name": bucket, "ttl": n.ttl, "quota": n.quota, "confirm": n.confirmed], as: BucketInfo.self)
            creds = try mintGrant(bucket: bucket, workspace: n.name)
            let cfg = try Bootstrap.loadConfig(paths: paths)
            record = WorkspaceRecord(name: n.name, kind: .managed, endpoint: cfg.gatewayURL, bucket: bucket,
                                     region: cfg.region, prefix: "", createdAt: now)
        }
        try store.saveCredentials(n.name, creds)
        try store.save(record)
        if record.kind == .managed {
            // The daemon keeps the grant renewed for as long as the workspace exists.
            _ = try control.json("POST", "/v1/workspaces", body: ["name": n.name, "bucket": record.bucket,
                                                                  "credentials_file": store.credentialsPath(n.name)], as: [String: Bool].self)
        }
        return record
    }

    /// Sets up a workspace and its cache from a service token (`artifacts key create`).
    public func importToken(_ text: String, workspace: String?) throws -> ServiceToken {
        let t = try ServiceToken.decode(text)
        if let workspace, workspace != t.workspace { throw DaemonError(.usage, "the token is for workspace \(t.workspace), not \(workspace)") }
        guard !t.expired() else { throw DaemonError(.usage, "the service token expired at \(t.expiresAt)", fix: "ask for a new one (`artifacts key create`)") }
        var record = t.record
        record.createdAt = UTCTime.iso8601Seconds(Date())
        try store.saveCredentials(t.workspace, t.credentials)
        try store.save(record)
        return t
    }

    /// A service token for a workspace: with its own grant (managed; `id` revokes it) or the cached
    /// keys of your own S3 (tracked for `key list`). `mode`: rw or ro; `ttl`: 30m, 1h, 24h or 7d.
    public func issueToken(workspace: String?, mode: String, ttl: String, name: String) throws -> (token: ServiceToken, id: String) {
        guard mode == "rw" || mode == "ro" else { throw DaemonError(.usage, "invalid --mode \"\(mode.prefix(20))\"", fix: "use rw or ro") }
        guard case .seconds(let seconds) = try BucketSpec.parseTTL(ttl) else {
            throw DaemonError(.usage, "a service token cannot be permanent", fix: "use one of 30m, 1h, 24h or 7d")
        }
        guard !name.isEmpty else { throw DaemonError(.usage, "--name must not be empty", fix: "e.g. --name ci") }
        let label = try GrantSpec.checkLabel("key:" + name)
        let ws = try only(workspace)
        let r = try store.load(ws)
        if r.kind == .managed {
            let g = try control.json("POST", "/v1/grants", body: ["bucket": r.bucket, "to": label, "ttl": ttl,
                                                                  "perms": mode == "rw" ? "read,write,list,delete" : "read,list"], as: GrantEnvelope.self)
            return (ServiceToken(workspace: ws, endpoint: r.endpoint, bucket: r.bucket, region: r.region, keyPrefix: r.prefix,
                                 accessKeyID: g.accessKey, secretAccessKey: g.secretKey, mode: mode, expiresAt: g.expiresAt, grantID: g.grantID), g.grantID)
        }
        guard let c = try store.loadCredentials(ws) else {
            throw DaemonError(.usage, "workspace \(ws) has no cached credentials to put in a token", fix: "artifacts storage set --workspace \(ws) …")
        }
        let expires = UTCTime.iso8601Seconds(Date().addingTimeInterval(Double(seconds)))
        let id = "k_" + String(format: "%08x", UInt32.random(in: 0...UInt32.max))
        try store.recordIssuedKey(ws, IssuedKey(id: id, name: name, mode: mode, accessKey: CachedCredentials.mask(c.accessKeyID),
                                                expiresAt: expires, createdAt: UTCTime.iso8601Seconds(Date())))
        return (ServiceToken(workspace: ws, endpoint: r.endpoint, bucket: r.bucket, region: r.region, keyPrefix: r.prefix,
                             accessKeyID: c.accessKeyID, secretAccessKey: c.secretAccessKey, mode: mode, expiresAt: expires, grantID: nil), id)
    }

    /// Deletes a workspace's record, cache and token list (never its data); a managed one's grant
    /// is revoked and the daemon stops renewing it. Live mounts refuse it unless `unmountFirst`.
    public func delete(_ name: String, confirmed: Bool, unmountFirst: Bool) throws -> WorkspaceRecord {
        let record = try store.load(name)
        guard confirmed else { throw DaemonError(.usage, "deleting workspace \(name) needs --yes", fix: "artifacts workspace delete \(name) --yes") }
        let mounts = try liveMounts().filter { $0.workspace == name }
        if !mounts.isEmpty && !unmountFirst {
            throw DaemonError(.usage, "workspace \(name) is mounted on \(mounts.map(\.mountpoint).joined(separator: ", "))",
                              fix: "unmount it first (`artifacts unmount \(mounts[0].mountpoint)`) or add --unmount")
        }
        for m in mounts { _ = try MountControl.unmount(m.mountpoint, paths: paths, timeout: 30) }
        let creds = try? store.loadCredentials(name)
        if record.kind == .managed {
            _ = try? control.json("DELETE", "/v1/workspaces/\(name)", as: [String: Bool].self)
            if let id = creds?.grantID { try? DaemonGrants(control: control).revoke(id) }
        }
        store.delete(name)
        return record
    }

    /// Caches keys of your own for a workspace (`storage set`); live mounts switch to them by themselves.
    public func setKeys(_ keys: GivenKeys, workspace: String?, env: [String: String] = ProcessInfo.processInfo.environment) throws -> (WorkspaceRecord, S3Credentials) {
        let name = try only(workspace)
        let record = try store.load(name)
        let k = try keys.resolve(env: env)
        try store.saveCredentials(name, CachedCredentials(accessKeyID: k.accessKeyID, secretAccessKey: k.secretAccessKey, source: "storage set"))
        return (record, k)
    }

    /// The service tokens handed out for a workspace: grants of the daemon (managed), or the list kept here (your own S3).
    public enum ServiceTokens: Sendable {
        case grants([GrantInfo])
        case ownKeys([IssuedKey])
    }

    public func serviceTokens(workspace: String?) throws -> (name: String, tokens: ServiceTokens) {
        let ws = try only(workspace)
        let record = try store.load(ws)
        guard record.kind == .managed else { return (ws, .ownKeys(try store.issuedKeys(ws))) }
        let grants = try control.json("GET", "/v1/grants?bucket=\(SigV4.uriEncode(record.bucket))", as: [GrantInfo].self)
        return (ws, .grants(grants.filter { $0.label.hasPrefix("key:") }))
    }
}
