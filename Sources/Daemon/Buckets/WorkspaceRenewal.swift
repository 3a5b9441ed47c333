import Credentials
import Foundation

/// Managed workspaces live longer than any grant: the daemon re-issues a workspace's grant before
/// it runs out, writes it into the workspace's credential cache (atomically; live mounts follow the
/// file) and revokes the old grant after a grace period.
extension BucketService {
    /// Renew when less than this is left (a 7-day grant is renewed a day before it ends).
    static let renewWindow: TimeInterval = 86400
    static let renewGrace: TimeInterval = 300

    /// `credentialsFile` is where the CLI keeps the cache; it must be the daemon's own idea of it
    /// (the same home), as that is where renewed grants are written.
    public func registerWorkspace(name: String, bucket: String, credentialsFile: String) throws {
        do { try WorkspaceStore.checkName(name) } catch let e as WorkspaceError { throw DaemonError(.usage, e.message, fix: e.fix) }
        let expected = workspaces.credentialsPath(name)
        guard credentialsFile == expected else {
            throw DaemonError(.usage, "the credential cache of workspace \(name) must be \(expected), not \(credentialsFile.prefix(200))",
                              fix: "run the CLI with the daemon's GARAGETYTUS_HOME")
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
            let cached: CachedCredentials
            do {
                guard registry.bucket(ws.bucket) != nil, let c = try workspaces.loadCredentials(ws.name) else {
                    try? registry.unregisterWorkspace(name: ws.name)
                    continue
                }
                cached = c
            } catch {
                continue  // a cache it cannot read is left for the operator (storage show names the fix)
            }
            let current = cached.grantID.flatMap { id in try? registry.grants(bucket: ws.bucket).first { $0.id == id } }
            if let g = current, g.state == .active, g.expiresAt.timeIntervalSince(t) > Self.renewWindow { continue }
            do {
                let fresh = try mint(try GrantSpec(bucket: ws.bucket, label: "workspace:\(ws.name)", perms: "read,write,list,delete", ttl: "7d"))
                let creds = CachedCredentials(accessKeyID: fresh.accessKey, secretAccessKey: fresh.secretKey, expiresAt: fresh.expiresAt,
                                              source: "grant \(fresh.grantID) (renewed by the daemon)", grantID: fresh.grantID)
                try workspaces.saveCredentials(ws.name, creds)
                if let old = current, old.state == .active { _ = try? retire(old.id, in: Self.renewGrace) }
                audit.record("workspace_grant_renewed", [("workspace", ws.name), ("grant_id", fresh.grantID), ("previous", current?.id ?? "-")])
                logger.notice("renewed the grant of workspace \(ws.name): \(fresh.grantID)")
            } catch {
                logger.warning("renewing the grant of workspace \(ws.name) failed, will retry: \(error)")
            }
        }
    }
}
