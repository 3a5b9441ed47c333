import AsyncHTTPClient
import Foundation

/// Bytes and objects held by one bucket.
public struct BucketUsage: Codable, Sendable, Equatable {
    public var bytes: Int64
    public var objects: Int64

    public init(bytes: Int64, objects: Int64) {
        self.bytes = bytes
        self.objects = objects
    }
}

/// One step of a repair run and how it went.
public struct RepairStep: Codable, Sendable, Equatable {
    public var name: String
    public var ok: Bool
    public var detail: String
}

/// The storage engine behind the daemon. The embedded SeaweedFS is one implementation; a remote
/// engine (an existing SeaweedFS cluster, or any S3 service) can be another, without touching
/// grants or the gateway.
public protocol StorageEngine: Sendable {
    /// A short name for logs and status (`seaweedfs-embedded`).
    var kind: String { get }
    /// The engine's own S3 endpoint, reachable only by the daemon (the host its requests are signed for).
    var s3Endpoint: URL { get }
    /// The Unix socket that endpoint is reached through, when it is not on TCP.
    var s3Socket: String? { get }
    /// Brings the engine up; returns when it serves S3, throws when it cannot.
    func start() async throws
    /// Stops the engine and waits for it.
    func stop() async
    /// Whether the engine answers an authenticated S3 request now.
    func isHealthy() async -> Bool
    func createBucket(_ name: String) async throws
    func deleteBucket(_ name: String) async throws
    /// Bytes stored (objects and the parts of unfinished uploads) and objects.
    func bucketUsage(_ name: String) async throws -> BucketUsage
    /// Aborts the bucket's multipart uploads started before `cutoff`; returns how many.
    func abortUploads(_ name: String, startedBefore cutoff: Date) async throws -> Int
    /// Deletes every object (and unfinished multipart upload) in the bucket; returns how many objects.
    /// `deleted` hears the running count after each batch.
    func emptyBucket(_ name: String, deleted: @escaping @Sendable (Int) -> Void) async throws -> Int
    /// The engine's own consistency check and repair, bounded by `budget`.
    func repair(budget: Duration) async -> [RepairStep]
    /// Gives back the disk space that deleted and overwritten objects still hold; what happened,
    /// in a line.
    func reclaim(budget: Duration) async -> String
    /// The engine's filer (listings with every entry's metadata), for engines that have one.
    func filer(http: HTTPClient) -> FilerClient?
}

extension StorageEngine {
    public func filer(http: HTTPClient) -> FilerClient? { nil }
}

/// What the daemon itself needs of an engine beyond `StorageEngine`: the process it runs (if
/// any), and how to follow the buckets' changes through the engine's filer.
protocol DaemonEngine: S3Engine {
    /// The engine process this daemon runs (nil: none, or none now).
    var currentPID: Int32? { get }
    /// Which engine a tail follows: it changes when the engine is another one (a restarted
    /// embedded engine is another process in another namespace); nil while none runs.
    var generation: Int32? { get }
    /// `weed filer.meta.tail` over the buckets from `timeAgo` seconds back, printing to
    /// `output`, and the generation it follows; nil while it cannot run.
    func tailRequest(timeAgo: Double, output: Int32) -> (SpawnRequest, generation: Int32)?
}
