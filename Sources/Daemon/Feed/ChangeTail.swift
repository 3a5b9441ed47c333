import CGaragetytus
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Follows the engine's filer (its metadata subscription, through `weed filer.meta.tail`) into
/// a `ChangeFeed`: started once the engine runs, started again where it stopped when it exits or
/// when the engine was restarted (a new process, a new namespace), stopped with the daemon.
final class ChangeTail: Service, Sendable {
    let engine: any DaemonEngine
    let feed: ChangeFeed
    let logger: Logger
    let metrics: GatewayMetrics
    /// How far back the first tail starts (so nothing between its start and its subscription is missed).
    static let lead = 2.0
    private let child = Mutex<Int32?>(nil)

    init(engine: any DaemonEngine, feed: ChangeFeed, metrics: GatewayMetrics, logger: Logger) {
        self.metrics = metrics
        self.engine = engine
        self.feed = feed
        self.logger = logger
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            var failures = 0
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                let ran = await runOnce()
                failures = ran ? 0 : failures + 1
                try? await Task.sleep(for: .milliseconds(min(200 * (1 << min(failures, 5)), 5000)))
            }
        } onGracefulShutdown: {
            self.feed.close()
            if let pid = self.child.withLock({ $0 }) { kill(pid, SIGTERM) }
        }
        feed.close()
    }

    /// One tail process, until it exits; whether it delivered anything.
    private func runOnce() async -> Bool {
        let now = Self.nowNs()
        let head = feed.head
        let from = head > 0 ? head : now - UInt64(Self.lead * 1e9)
        var pipe: [Int32] = [-1, -1]
        guard gt_pipe_cloexec(&pipe) == 0 else { return false }
        guard let (request, generation) = engine.tailRequest(timeAgo: Double(now - min(from, now)) / 1e9 + 0.5, output: pipe[1]) else {
            close(pipe[0]); close(pipe[1])
            return false
        }
        let started = Spawn.start(request)
        close(pipe[1])
        guard case let .success(pid) = started else {
            close(pipe[0])
            if case let .failure(f) = started { logger.warning("change feed: \(f.description)") }
            return false
        }
        child.withLock { $0 = pid }
        metrics.changeTailStarted()
        feed.covering(from: from)
        let input = pipe[0]
        let watch = Task { [engine] in
            // A restarted engine is another process in another namespace: follow that one.
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                if engine.generation != generation { kill(pid, SIGTERM); return }
            }
        }
        let delivered = await withCheckedContinuation { (c: CheckedContinuation<Int, Never>) in
            Thread.detachNewThread { [feed, metrics] in
                var decoder = MetaTailDecoder()
                var buffer = [UInt8](repeating: 0, count: 64 << 10)
                var count = 0
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { break }
                    let objects = decoder.feed(buffer[0..<n])
                    let changes = objects.flatMap(MetaTailDecoder.changes)
                    count += objects.count
                    feed.append(changes)
                    metrics.changesReported(changes.count)
                }
                close(input)
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                c.resume(returning: count)
            }
        }
        watch.cancel()
        child.withLock { $0 = nil }
        if !Task.isShuttingDownGracefully { logger.info("change feed: the engine's metadata tail ended after \(delivered) events; starting it again") }
        return delivered > 0
    }

    static func nowNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
