import Credentials
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

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
public final class Watchdog: Service, Sendable {
    let paths: Paths
    let hysteresis: Hysteresis
    let interval: Duration
    let probe: any DiskProbe
    let state: DaemonState
    let metrics: DaemonMetrics
    let logger: Logger

    /// Asked to give back the space deleted objects still hold whenever free space is below the
    /// read-write mark, one at a time and at most once a minute: garbage alone should not make
    /// the daemon read-only.
    let reclaim: (@Sendable () async -> String)?
    /// Told after every tick (systemd's `WATCHDOG=1`: the daemon's loop still runs).
    let heartbeat: (@Sendable () -> Void)?
    /// The engine's own free space in per cent, where it is not this host's disk (a cluster's
    /// volume servers): the daemon turns read-only when either runs low.
    let engineFree: (@Sendable () async -> Double?)?
    /// When the last reclaim started, and whether one runs now.
    private let reclaiming = Mutex<(last: Date?, running: Bool)>((nil, false))
    var reclaimState: (last: Date?, running: Bool) { reclaiming.withLock { $0 } }

    public init(paths: Paths, config: Config.Watchdog, probe: any DiskProbe = StatvfsDiskProbe(),
                state: DaemonState, metrics: DaemonMetrics, logger: Logger, reclaim: (@Sendable () async -> String)? = nil,
                heartbeat: (@Sendable () -> Void)? = nil, engineFree: (@Sendable () async -> Double?)? = nil) {
        self.engineFree = engineFree
        self.reclaim = reclaim
        self.heartbeat = heartbeat
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
                self.tick(engineFree: await self.engineFree?())
                self.heartbeat?()
                try await Task.sleep(for: self.interval)
            }
        }
    }

    /// One watchdog pass. Errors are logged; the daemon keeps its previous mode.
    public func tick(now: Date = Date(), engineFree: Double? = nil) {
        var free: Double
        do {
            free = try probe.freePercent(of: paths.dataDir)
        } catch {
            logger.warning("watchdog: cannot read free space: \(error)")
            return
        }
        let where_ = engineFree.map { $0 < free ? "the cluster's volume servers" : paths.dataDir } ?? paths.dataDir
        if let engineFree { free = min(free, engineFree) }
        var previous = Mode.rw
        let s = state.update { s in
            previous = s.mode
            s.mode = hysteresis.next(previous: s.mode, freePct: free)
            s.diskFreePct = free
            s.lastTick = now
        }
        metrics.recordTick(freePct: free, at: now)
        if free < hysteresis.rwAbovePct { reclaimIfDue(free: free, now: now) }
        if s.mode != previous {
            metrics.setMode(s.mode)
            let pct = String(format: "%.1f", free)
            if s.mode == .ro {
                logger.warning("watchdog: mode rw -> ro: disk free \(pct) % < \(hysteresis.roBelowPct) % on \(where_); writes are refused until it is above \(hysteresis.rwAbovePct) %")
            } else {
                logger.notice("watchdog: mode ro -> rw: disk free \(pct) % > \(hysteresis.rwAbovePct) %")
            }
        }
        writeRecord(mode: s.mode, free: free, now: now)
    }

    /// Starts a reclaim in the background unless one runs or one started in the last minute.
    private func reclaimIfDue(free: Double, now: Date) {
        guard let reclaim else { return }
        let due = reclaiming.withLock { r -> Bool in
            guard !r.running, r.last.map({ now.timeIntervalSince($0) >= 60 }) ?? true else { return false }
            r = (now, true)
            return true
        }
        guard due else { return }
        logger.notice("watchdog: disk free \(String(format: "%.1f", free)) % — asking the engine to give back the space of deleted objects")
        Task {
            let result = await reclaim()
            self.reclaiming.withLock { $0.running = false }
            self.logger.notice("watchdog: \(result)")
        }
    }

    private func writeRecord(mode: Mode, free: Double, now: Date) {
        let record = WatchdogRecord(mode: mode, diskFreePct: free, lastTickUnixSeconds: now.timeIntervalSince1970,
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
