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
        try workspaces.checkWorkspaceName(name)
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

    /// What renewal does with a workspace's current grant (the one in its cache).
    public enum RenewalDecision: Equatable, Sendable {
        case keep
        case renew
        case leave(String)
    }

    /// Renew only the daemon's own grant for this workspace, and only because it runs out: never one
    /// an operator revoked, never an imported token (another label), and with the same permissions.
    public static func renewal(of g: GrantView, label: String, workspace: String, at t: Date) -> RenewalDecision {
        guard label == "workspace:\(workspace)" else { return .leave("its credentials are not a grant the daemon issued for it (\(label))") }
        switch g.state {
        case .revoked, .revoking: return .leave("grant \(g.id) was revoked")
        case .active: return g.expiresAt.timeIntervalSince(t) > renewWindow ? .keep : .renew
        }
    }

    /// One pass: every registered workspace whose current grant (the one in its cache) ends within
    /// the window gets a new one. A workspace whose cache or bucket is gone is forgotten.
    public func renewWorkspaceGrants() async {
        let t = now
        for ws in (try? registry.workspaces()) ?? [] {
            let cached: String?
            do {
                guard registry.bucket(ws.bucket) != nil, let c = try workspaces.cachedGrantID(ws.name) else {
                    try? registry.unregisterWorkspace(name: ws.name)
                    continue
                }
                cached = c
            } catch {
                continue  // a cache it cannot read is left for the operator (storage show names the fix)
            }
            guard let id = cached else { continue }  // the workspace's own keys: nothing to renew
            guard let current = try? registry.grants(bucket: ws.bucket).first(where: { $0.id == id }) else { continue }
            switch Self.renewal(of: current.view, label: current.label, workspace: ws.name, at: t) {
            case .keep: continue
            case let .leave(why):
                if renewalNotices.withLock({ $0.insert("\(ws.name) \(id)").inserted }) {
                    logger.warning("not renewing the grant of workspace \(ws.name): \(why) — `artifacts workspace rotate \(ws.name)` issues a new one")
                    audit.record("workspace_grant_not_renewed", [("workspace", ws.name), ("grant_id", id), ("why", why)])
                }
                continue
            case .renew: break
            }
            do {
                let perms = current.view.permissions.map(\.rawValue).sorted().joined(separator: ",")
                let fresh = try mint(try GrantSpec(bucket: ws.bucket, label: "workspace:\(ws.name)", perms: perms, ttl: "7d"))
                try workspaces.saveRenewedGrant(ws.name, fresh, source: "grant \(fresh.grantID) (renewed by the daemon)")
                if current.state == .active { _ = try? retire(current.id, in: Self.renewGrace) }
                audit.record("workspace_grant_renewed", [("workspace", ws.name), ("grant_id", fresh.grantID), ("previous", current.id)])
                logger.notice("renewed the grant of workspace \(ws.name): \(fresh.grantID)")
            } catch {
                logger.warning("renewing the grant of workspace \(ws.name) failed, will retry: \(error)")
            }
        }
    }
}
