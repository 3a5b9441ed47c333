import Credentials
import Foundation

/// Managed workspaces live longer than any grant: the daemon re-issues a workspace's grant before
/// it runs out, writes it into the workspace's credential cache (atomically; live mounts follow the
/// file) and revokes the old grant after a grace period.
extension BucketService {
    /// Renew when less than this is left (a 7-day grant is renewed a day before it ends).
    static let renewWindow: TimeInterval = 86400
    static let renewGrace: TimeInterval = 300

    public func registerWorkspace(name: String, bucket: String, credentialsFile: String, configDir: String) throws {
        let allowed = configDir + "/workspaces/"
        guard credentialsFile.hasPrefix(allowed), credentialsFile.hasSuffix(".credentials.json"), !credentialsFile.contains("/../") else {
            throw DaemonError(.usage, "a workspace's credential cache must be under \(allowed)")
        }
        _ = try registry.requireBucket(bucket)
        try registry.registerWorkspace(name: name, bucket: bucket, credentialsFile: credentialsFile)
    }

    public func unregisterWorkspace(name: String) throws {
        try registry.unregisterWorkspace(name: name)
    }

    /// One pass: every registered workspace whose current grant (the one in its cache) ends within
    /// the window gets a new one. A workspace whose cache or bucket is gone is forgotten.
    public func renewWorkspaceGrants() async {
        let t = now
        for ws in (try? registry.workspaces()) ?? [] {
            guard registry.bucket(ws.bucket) != nil,
                  let data = try? SecretFile.read(ws.credentialsFile),
                  let cached = try? JSONDecoder().decode(CachedCredentials.self, from: data) else {
                if !FileManager.default.fileExists(atPath: ws.credentialsFile) || registry.bucket(ws.bucket) == nil {
                    try? registry.unregisterWorkspace(name: ws.name)
                }
                continue
            }
            let current = cached.grantID.flatMap { id in try? registry.grants(bucket: ws.bucket).first { $0.id == id } }
            if let g = current, g.state == .active, g.expiresAt.timeIntervalSince(t) > Self.renewWindow { continue }
            do {
                let fresh = try mint(try GrantSpec(bucket: ws.bucket, label: "workspace:\(ws.name)", perms: "read,write,list,delete", ttl: "7d"))
                let creds = CachedCredentials(accessKeyID: fresh.accessKey, secretAccessKey: fresh.secretKey, expiresAt: fresh.expiresAt,
                                              source: "grant \(fresh.grantID) (renewed by the daemon)", grantID: fresh.grantID)
                let enc = JSONEncoder()
                enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                try SecretFile.write(try enc.encode(creds), to: ws.credentialsFile)
                if let old = current, old.state == .active { _ = try? retire(old.id, in: Self.renewGrace) }
                audit.record("workspace_grant_renewed", [("workspace", ws.name), ("grant_id", fresh.grantID), ("previous", current?.id ?? "-")])
                logger.notice("renewed the grant of workspace \(ws.name): \(fresh.grantID)")
            } catch {
                logger.warning("renewing the grant of workspace \(ws.name) failed, will retry: \(error)")
            }
        }
    }
}
