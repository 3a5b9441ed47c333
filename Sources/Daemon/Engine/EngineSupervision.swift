import Foundation
import Logging
import ServiceLifecycle

/// Polls the engine's health and keeps `DaemonState` and the metrics in step; on graceful
/// shutdown it stops the engine (SIGTERM, then SIGKILL after the grace period).
struct EngineSupervision: Service {
    let engine: any StorageEngine
    let state: DaemonState
    let metrics: DaemonMetrics
    let logger: Logger

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let healthy = await engine.isHealthy()
                var before = EngineStatus.up
                let after = state.update { s in
                    before = s.engine
                    guard s.engine != .stopping && s.engine != .stopped else { return }
                    s.engine = healthy ? .up : (s.engine == .starting ? .starting : .down)
                    if healthy { s.engineLastError = nil }
                }
                metrics.setEngineUp(after.engine == .up)
                if before != after.engine && after.engine == .up {
                    logger.notice("engine is up again (restarts so far: \(after.engineRestarts))")
                }
                try await Task.sleep(for: after.engine == .up ? .seconds(1) : .milliseconds(200))
            }
        }
        state.update { $0.engine = .stopping }
        await engine.stop()
        state.update { $0.engine = .stopped }
        metrics.setEngineUp(false)
        logger.notice("engine stopped")
    }

    /// Turns the supervisor's events into state, metrics and log lines.
    static func observer(state: DaemonState, metrics: DaemonMetrics, logger: Logger) -> @Sendable (EngineEvent) -> Void {
        { event in
            switch event {
            case let .spawned(pid, restart):
                state.update { s in
                    s.enginePID = pid
                    if restart { s.engineRestarts += 1; s.engine = .starting }
                }
                if restart {
                    metrics.engineRestarted()
                    logger.notice("engine restarted (weed pid \(pid))")
                } else {
                    logger.info("engine spawned (weed pid \(pid))")
                }
            case let .exited(pid, reason):
                let stopping = state.update { s in
                    s.enginePID = nil
                    if s.engine != .stopping && s.engine != .stopped {
                        s.engine = .down
                        s.engineLastError = "weed \(reason)"
                    }
                }.engine == .stopping
                metrics.setEngineUp(false)
                if !stopping { logger.warning("engine exited unexpectedly (weed pid \(pid) \(reason))") }
            case let .spawnFailed(reason):
                state.update { $0.engineLastError = reason }
                logger.error("\(reason)")
            case let .backingOff(seconds):
                if state.snapshot.engine != .stopping {
                    logger.notice("restarting the engine in \(seconds) s")
                }
            }
        }
    }
}
