import Foundation

/// Where managed workspaces' credentials are cached: the workspace layer's store
/// (`Workspaces.WorkspaceStore`), handed to `Daemon.serve`. The daemon writes renewed grants there;
/// live mounts follow the file.
public protocol WorkspaceCaches: Sendable {
    /// Refuses a name that is not a workspace name (with `DaemonError(.usage)`).
    func checkWorkspaceName(_ name: String) throws
    func credentialsPath(_ name: String) -> String
    /// The grant the workspace's cache holds: nil when there is no cache, `.some(nil)` when it holds keys of its own.
    func cachedGrantID(_ name: String) throws -> String??
    /// Replaces the cache with a renewed grant (atomically).
    func saveRenewedGrant(_ name: String, _ grant: GrantEnvelope, source: String) throws
}
