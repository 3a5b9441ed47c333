import Foundation
import Synchronization

/// Engine lifecycle as seen by the supervisor.
public enum EngineStatus: String, Codable, Sendable {
    case starting, up, down, stopping, stopped
}

/// The daemon's live state, shared by the watchdog, the supervisor and the HTTP servers.
/// Later layers read `mode` here (the S3 front door refuses writes in `ro`).
public final class DaemonState: Sendable {
    public struct Snapshot: Sendable {
        public var mode: Mode = .rw
        public var diskFreePct: Double?
        public var lastTick: Date?
        public var engine: EngineStatus = .starting
        public var engineRestarts = 0
        public var enginePID: Int32?
        public var engineLastError: String?
        public var ready = false
        public var uncleanShutdownTotal = 0
        public var lastRepair: RepairReport?
        /// On a cluster: when the shared buckets and grants were last read, and why grants are
        /// refused when that is too long ago.
        public var sharedStateReadAt: Date?
        public var sharedStateProblem: String?
    }

    public let startedAt: Date
    private let box: Mutex<Snapshot>

    public init(startedAt: Date = Date(), uncleanShutdownTotal: Int) {
        self.startedAt = startedAt
        var s = Snapshot()
        s.uncleanShutdownTotal = uncleanShutdownTotal
        box = Mutex(s)
    }

    public var snapshot: Snapshot { box.withLock { $0 } }

    public var mode: Mode { box.withLock { $0.mode } }

    /// Applies `change` under the lock and returns the state after it.
    @discardableResult
    public func update(_ change: (inout Snapshot) -> Void) -> Snapshot {
        box.withLock { s in
            change(&s)
            return s
        }
    }

    /// Why the daemon is unhealthy, or nil when it is healthy.
    public var unhealthyReason: String? {
        let s = snapshot
        if s.engine != .up {
            return "engine is \(s.engine.rawValue)" + (s.engineLastError.map { ": \($0)" } ?? "")
        }
        if let p = s.sharedStateProblem { return p }
        return nil
    }
}
