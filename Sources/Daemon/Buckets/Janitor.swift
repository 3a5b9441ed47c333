import Foundation
import Logging
import ServiceLifecycle

/// Keeps the bucket and grant promises over time: expires buckets whose TTL passed, lifts deny-all
/// whose TTL passed, retries pending revoke cleanups every 60 s, renews managed workspaces' grants,
/// rescans bucket usage, and rolls per-bucket traffic into the state DB.
final class Janitor: Service {
    let service: BucketService
    let metrics: GatewayMetrics
    let interval: Duration
    let logger: Logger
    /// Unfinished multipart uploads older than this are aborted.
    let abortUploadsAfter: TimeInterval

    /// Usage is rescanned every this many ticks.
    let rescanTicks: Int
    /// Grants that ended (revoked or expired) are kept this long for `bucket grants`, then deleted.
    let endedGrantsKept: TimeInterval

    init(service: BucketService, metrics: GatewayMetrics, interval: Duration = .seconds(1), abortUploadsAfter: TimeInterval = 86400,
         rescanTicks: Int = 30, endedGrantsKept: TimeInterval = 7 * 86400, logger: Logger) {
        self.abortUploadsAfter = abortUploadsAfter
        self.endedGrantsKept = endedGrantsKept
        self.rescanTicks = max(1, rescanTicks)
        self.service = service
        self.metrics = metrics
        self.interval = interval
        self.logger = logger
    }

    func run() async throws {
        await rescanUsage()
        // The sleep is cancelled on graceful shutdown so stopping never waits for a tick.
        try? await cancelWhenGracefulShutdown {
            var tick = 0
            while !Task.isCancelled {
                try await Task.sleep(for: self.interval)
                tick += 1
                await self.once(tick: tick)
            }
        }
        try? service.registry.addTraffic(metrics.drainTraffic(), at: service.now)
    }

    func once(tick: Int) async {
        let registry = service.registry
        let t = service.now
        do {
            _ = try await service.expire(nil, dryRun: false)  // the buckets whose TTL passed; usually none
        } catch {
            logger.warning("expiring buckets failed, will retry: \(error)")
        }
        for b in registry.snapshot.buckets.values {
            if let until = b.denyAllUntil, until <= t {
                _ = try? service.allow(b.name, reason: "deny-all ttl passed")
            }
        }
        service.audit.flushRefusals()
        await service.revokeRetired()
        if tick % 60 == 0 { await service.retryPendingRevokes() }
        if tick % 10 == 0 { await service.renewWorkspaceGrants() }
        if tick % 3600 == 1 { pruneEndedGrants() }
        try? registry.addTraffic(metrics.drainTraffic(), at: t)  // one small write a second, only with traffic
        if tick % rescanTicks == 0 { await rescanUsage() }
        metrics.setActiveGrants(registry.snapshot.grantsByKey.values.filter { $0.state == .active && $0.expiresAt > t }.count)
    }

    /// Once an hour (and at the first tick): grants that ended more than `endedGrantsKept` ago.
    func pruneEndedGrants() {
        do {
            let ids = try service.registry.pruneEnded(before: service.now.addingTimeInterval(-endedGrantsKept))
            guard !ids.isEmpty else { return }
            logger.info("removed \(ids.count) grant(s) that ended more than \(Int(endedGrantsKept / 86400)) days ago")
            service.audit.record("grants_pruned", [("count", "\(ids.count)")])
        } catch {
            logger.warning("removing grants that ended long ago failed, will retry in an hour: \(error)")
        }
    }

    func rescanUsage() async {
        for name in service.registry.snapshot.buckets.keys {
            let cutoff = service.now.addingTimeInterval(-abortUploadsAfter)
            do {
                let n = try await service.engine.abortUploads(name, startedBefore: cutoff)
                if n > 0 {
                    metrics.abortedUploads(n)
                    logger.notice("aborted \(n) multipart upload(s) of bucket \(name) left unfinished for more than \(String(format: "%.1f", abortUploadsAfter / 3600)) h")
                    service.audit.record("uploads_aborted", [("bucket", name), ("count", "\(n)")])
                }
            } catch {
                logger.warning("aborting old uploads of bucket \(name) failed, will retry: \(error)")
            }
            let before = service.usage.storedSinceScan(bucket: name)
            if let u = try? await service.engine.bucketUsage(name) {
                service.usage.scanned(bucket: name, usage: u, storedBefore: before)
            }
        }
    }
}
