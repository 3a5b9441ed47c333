import Credentials
import Foundation
import Logging
import ServiceLifecycle

/// What `watchdog.json` holds after every tick.
public struct WatchdogRecord: Codable, Sendable, Equatable {
    public var mode: Mode
    public var diskFreePct: Double
    public var lastTickUnixSeconds: Double
    public var roBelowPct: Double
    public var rwAbovePct: Double
    public var dataDir: String
    public var pid: Int32

    enum CodingKeys: String, CodingKey {
        case mode, pid
        case diskFreePct = "disk_free_pct"
        case lastTickUnixSeconds = "last_tick_unix_seconds"
        case roBelowPct = "ro_below_pct"
        case rwAbovePct = "rw_above_pct"
        case dataDir = "data_dir"
    }
}

/// Ticks every `interval`: reads the data directory's free space, flips the mode with hysteresis,
/// updates metrics and writes `watchdog.json` atomically.
public struct Watchdog: Service {
    let paths: Paths
    let hysteresis: Hysteresis
    let interval: Duration
    let probe: any DiskProbe
    let state: DaemonState
    let metrics: DaemonMetrics
    let logger: Logger

    public init(paths: Paths, config: Config.Watchdog, probe: any DiskProbe = StatvfsDiskProbe(),
                state: DaemonState, metrics: DaemonMetrics, logger: Logger) {
        self.paths = paths
        self.hysteresis = Hysteresis(roBelowPct: config.roBelowPct, rwAbovePct: config.rwAbovePct)
        self.interval = .milliseconds(Int64(config.intervalSeconds * 1000))
        self.probe = probe
        self.state = state
        self.metrics = metrics
        self.logger = logger
    }

    public func run() async throws {
        // The sleep is cancelled on graceful shutdown so stopping never waits for a tick.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                tick()
                try await Task.sleep(for: interval)
            }
        }
    }

    /// One watchdog pass. Errors are logged; the daemon keeps its previous mode.
    public func tick(now: Date = Date()) {
        let free: Double
        do {
            free = try probe.freePercent(of: paths.dataDir)
        } catch {
            logger.warning("watchdog: cannot read free space: \(error)")
            return
        }
        var previous = Mode.rw
        let s = state.update { s in
            previous = s.mode
            s.mode = hysteresis.next(previous: s.mode, freePct: free)
            s.diskFreePct = free
            s.lastTick = now
        }
        metrics.recordTick(freePct: free, at: now)
        if s.mode != previous {
            metrics.setMode(s.mode)
            let pct = String(format: "%.1f", free)
            if s.mode == .ro {
                logger.warning("watchdog: mode rw -> ro: disk free \(pct) % < \(hysteresis.roBelowPct) % on \(paths.dataDir); writes are refused until it is above \(hysteresis.rwAbovePct) %")
            } else {
                logger.notice("watchdog: mode ro -> rw: disk free \(pct) % > \(hysteresis.rwAbovePct) %")
            }
        }
        let record = WatchdogRecord(mode: s.mode, diskFreePct: free, lastTickUnixSeconds: now.timeIntervalSince1970,
                                    roBelowPct: hysteresis.roBelowPct, rwAbovePct: hysteresis.rwAbovePct,
                                    dataDir: paths.dataDir, pid: getpid())
        do {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try AtomicFile.write(try enc.encode(record), to: paths.watchdogFile)
        } catch {
            // A full disk is exactly when this can fail; the mode and metrics are still right.
            logger.warning("watchdog: cannot write \(paths.watchdogFile): \(error)")
        }
    }
}
