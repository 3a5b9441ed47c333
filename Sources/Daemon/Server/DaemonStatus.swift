import Foundation

/// What `garagetytus status --json` prints and the control socket's `GET /v1/status` returns.
public struct DaemonStatus: Codable, Sendable {
    public struct Engine: Codable, Sendable {
        public var kind: String
        public var state: String
        public var pid: Int32?
        public var restarts: Int
        public var lastError: String?

        enum CodingKeys: String, CodingKey {
            case kind, state, pid, restarts
            case lastError = "last_error"
        }
    }

    public struct Endpoints: Codable, Sendable {
        public var metrics: String
        public var health: String
        public var controlSocket: String

        enum CodingKeys: String, CodingKey {
            case metrics, health
            case controlSocket = "control_socket"
        }
    }

    public var running: Bool
    public var ready: Bool
    public var pid: Int32?
    public var uptimeSeconds: Double?
    public var mode: Mode?
    public var diskFreePct: Double?
    public var engine: Engine?
    public var endpoints: Endpoints?
    public var uncleanShutdownTotal: Int
    public var version: String
    public var dataDir: String
    public var lastRepair: RepairReport?
    /// On a cluster: seconds since the shared buckets and grants were last read.
    public var sharedStateAgeSeconds: Double?

    enum CodingKeys: String, CodingKey {
        case running, ready, pid, mode, engine, endpoints, version
        case uptimeSeconds = "uptime_seconds"
        case diskFreePct = "disk_free_pct"
        case uncleanShutdownTotal = "unclean_shutdown_total"
        case dataDir = "data_dir"
        case lastRepair = "last_repair"
        case sharedStateAgeSeconds = "shared_state_age_seconds"
    }

    /// The pid for messages ("?" when unknown).
    public var pidText: String { pid.map(String.init) ?? "?" }

    /// The status of a daemon that is not running.
    public static func stopped(dataDir: String, uncleanShutdownTotal: Int) -> DaemonStatus {
        DaemonStatus(running: false, ready: false, pid: nil, uptimeSeconds: nil, mode: nil, diskFreePct: nil,
                     engine: nil, endpoints: nil, uncleanShutdownTotal: uncleanShutdownTotal, version: Version.current,
                     dataDir: dataDir, lastRepair: nil)
    }

    public static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return e
    }()

    public static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }()
}

public enum Version {
    public static let current = "0.1.0"
}
