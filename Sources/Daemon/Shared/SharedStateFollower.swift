import Foundation
import Logging
import S3
import ServiceLifecycle

/// Keeps this daemon's copy of the cluster's shared buckets and grants current: pulls as soon as
/// the engine's metadata tail reports a change in the state bucket (milliseconds after another
/// daemon wrote it), and at least every `interval` (which also covers a tail that is down).
/// Says when the shared state cannot be read, when grants start being refused, and when it is
/// read again.
final class SharedStateFollower: Service, Sendable {
    let registry: Registry
    let shared: SharedState
    let state: DaemonState
    let feed: ChangeFeed
    let bucket: String
    let interval: Duration
    let logger: Logger

    init(registry: Registry, shared: SharedState, state: DaemonState, feed: ChangeFeed, bucket: String, interval: Duration = .seconds(1),
         logger: Logger) {
        self.registry = registry
        self.state = state
        self.shared = shared
        self.feed = feed
        self.bucket = bucket
        self.interval = interval
        self.logger = logger
    }

    func run() async throws {
        var position: UInt64?
        var failing = false, refusing = false
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let registry = registry
            do {
                if try await offloaded({ try registry.pullShared() }) { logger.debug("shared state: changes pulled") }
                if failing { logger.notice("shared state: the cluster's buckets and grants are read again; grants are served") }
                failing = false
                refusing = false
            } catch {
                if !failing {
                    logger.warning("shared state: cannot read the cluster's buckets and grants (\(error)); grants are served as last read for up to \(Int(shared.maxStaleness)) s")
                }
                failing = true
                if shared.isStale && !refusing {
                    logger.error("shared state: last read \(Int(shared.secondsSincePull ?? 0)) s ago (engine.max_staleness_seconds = \(Int(shared.maxStaleness))): refusing grant-signed requests until the cluster answers")
                    refusing = true
                }
            }
            let age = shared.secondsSincePull
            let problem = shared.isStale
                ? "the cluster's shared buckets and grants were last read \(age.map { "\(Int($0)) s ago" } ?? "never") (engine.max_staleness_seconds = \(Int(shared.maxStaleness))): grants are refused"
                : nil
            state.update {
                $0.sharedStateReadAt = age.map { Date().addingTimeInterval(-$0) }
                $0.sharedStateProblem = problem
            }
            switch await feed.read(bucket: bucket, after: position, wait: interval) {
            case .changes(_, let p), .reset(let p): position = p
            case .closed: try? await Task.sleep(for: interval)
            }
        }
    }
}
