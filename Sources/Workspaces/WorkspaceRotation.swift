import Credentials
import Daemon
import Foundation

/// Who issues and ends a managed workspace's grants: the local daemon (`DaemonGrants`), or a fake.
public protocol WorkspaceGrants: Sendable {
    /// A grant with all four permissions on `bucket`, for 7 days, labelled for `workspace`.
    func mint(bucket: String, workspace: String) throws -> CachedCredentials
    /// The grant keeps working for `seconds` more (a request under way with it completes), then ends.
    func retire(_ grantID: String, inSeconds: Double) throws
    func revoke(_ grantID: String) throws
}

/// Which key each live mount of a workspace signs with: the mount registry, or a fake.
public protocol MountKeyReports: Sendable {
    /// Every live mount of `workspace`: its mountpoint and `MountRegistry.fingerprint` of its key.
    func liveMountKeys(of workspace: String) throws -> [(mountpoint: String, fingerprint: String?)]
}

/// Where a workspace's credentials are cached: the workspace store, or a fake.
public protocol CredentialCache: Sendable {
    func loadCredentials(_ name: String) throws -> CachedCredentials?
    func saveCredentials(_ name: String, _ c: CachedCredentials) throws
}

extension WorkspaceStore: CredentialCache {}

/// Time as the rotation sees it: the system's, or a fake that moves only when slept.
public protocol RotationClock: Sendable {
    func now() -> Date
    func sleep(_ seconds: Double)
}

public struct SystemClock: RotationClock {
    public init() {}
    public func now() -> Date { Date() }
    public func sleep(_ seconds: Double) { usleep(UInt32(seconds * 1_000_000)) }
}

/// Replacing a managed workspace's grant without breaking its live mounts:
/// 1. mint a new grant (nothing changes if that fails);
/// 2. swap the cache (atomically; a new grant that cannot be cached is revoked again);
/// 3. retire the old grant in `grace` seconds;
/// 4. watch the mounts (each follows the cache and reports the key it signs with, within a
///    second or so) for up to `switchWait` seconds, at most `grace`;
/// 5. every mount switched: revoke the old grant now; else it ends at the grace's end.
public struct WorkspaceRotation: Sendable {
    public let grants: any WorkspaceGrants
    public let cache: any CredentialCache
    public let mounts: any MountKeyReports
    public let clock: any RotationClock
    /// How long to wait for the mounts to switch before leaving the old grant to its grace.
    public var switchWait: Double = 10
    public var pollInterval: Double = 0.1

    public init(grants: any WorkspaceGrants, cache: any CredentialCache, mounts: any MountKeyReports, clock: any RotationClock = SystemClock()) {
        self.grants = grants
        self.cache = cache
        self.mounts = mounts
        self.clock = clock
    }

    public enum OldGrant: Sendable, Equatable {
        /// The cache held no grant (credentials set by hand): nothing to end.
        case none
        /// Every live mount switched: ended now.
        case revoked(String)
        /// Ends `inSeconds` after the rotation; `notSwitched`: mounts still on the old key (or why that is unknown).
        case retiring(String, inSeconds: Double, notSwitched: [String])
        /// The daemon did not take the retirement: the old grant works until it expires or is revoked by hand.
        case stillActive(String, reason: String)
    }

    public struct Outcome: Sendable, Equatable {
        public var fresh: CachedCredentials
        public var old: OldGrant
    }

    public func rotate(workspace: String, bucket: String, grace: Double) throws -> Outcome {
        let old = try cache.loadCredentials(workspace)
        let fresh = try grants.mint(bucket: bucket, workspace: workspace)
        do {
            try cache.saveCredentials(workspace, fresh)
        } catch {
            if let id = fresh.grantID { try? grants.revoke(id) }
            throw error
        }
        guard let oldID = old?.grantID else { return Outcome(fresh: fresh, old: .none) }
        var retireFailure: String?
        do { try grants.retire(oldID, inSeconds: grace) } catch { retireFailure = "\(error)" }
        let pending = waitForSwitch(workspace, to: fresh.accessKeyID, within: min(grace, switchWait))
        if pending.isEmpty, (try? grants.revoke(oldID)) != nil { return Outcome(fresh: fresh, old: .revoked(oldID)) }
        if let retireFailure { return Outcome(fresh: fresh, old: .stillActive(oldID, reason: retireFailure)) }
        return Outcome(fresh: fresh, old: .retiring(oldID, inSeconds: grace, notSwitched: pending))
    }

    /// The mounts of `workspace` not signing with `accessKeyID` once they all switched or `seconds` passed.
    func waitForSwitch(_ workspace: String, to accessKeyID: String, within seconds: Double) -> [String] {
        let key = MountRegistry.fingerprint(accessKeyID)
        let deadline = clock.now().addingTimeInterval(seconds)
        while true {
            let pending: [String]
            do {
                pending = try mounts.liveMountKeys(of: workspace).filter { $0.fingerprint != key }.map(\.mountpoint)
            } catch {
                return ["unknown (\(error))"]
            }
            if pending.isEmpty || clock.now() >= deadline { return pending }
            clock.sleep(pollInterval)
        }
    }
}

/// The local daemon's grant API, as the workspace layer uses it.
public struct DaemonGrants: WorkspaceGrants {
    let control: ControlClient

    public init(control: ControlClient) { self.control = control }

    public func mint(bucket: String, workspace: String) throws -> CachedCredentials {
        let g = try control.json("POST", "/v1/grants", body: ["bucket": bucket, "to": "workspace:\(workspace)", "perms": "read,write,list,delete", "ttl": "7d"],
                                 as: GrantEnvelope.self)
        return CachedCredentials(accessKeyID: g.accessKey, secretAccessKey: g.secretKey, expiresAt: g.expiresAt, source: "grant \(g.grantID)", grantID: g.grantID)
    }

    public func retire(_ grantID: String, inSeconds: Double) throws {
        _ = try control.json("POST", "/v1/grants/\(grantID)/retire", body: ["in_seconds": inSeconds], as: GrantInfo.self)
    }

    public func revoke(_ grantID: String) throws {
        _ = try control.json("POST", "/v1/grants/\(grantID)/revoke", as: GrantInfo.self)
    }
}
