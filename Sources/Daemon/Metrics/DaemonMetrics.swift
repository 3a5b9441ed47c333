import Foundation
import Prometheus
import Synchronization

/// The daemon's Prometheus registry and metric handles, created once.
public final class DaemonMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let diskFree: Gauge
    private let uptime: Gauge
    private let unclean: Counter
    private let lastTick: Gauge
    private let engineUp: Gauge
    private let engineRestarts: Counter
    /// `garagetytus_mode{mode=...}`: exactly one series, re-registered when the mode changes.
    private let modeGauge: Mutex<(mode: Mode, gauge: Gauge)>

    public init(uncleanShutdownTotal: Int, mode: Mode = .rw) {
        let r = PrometheusCollectorRegistry()
        registry = r
        diskFree = r.makeGauge(name: MetricNames.diskFreePct, help: "Free space of the data directory's filesystem, percent (0-100)")
        uptime = r.makeGauge(name: MetricNames.uptimeSeconds, help: "Seconds since serve started")
        unclean = r.makeCounter(name: MetricNames.uncleanShutdownTotal, help: "Unclean shutdowns detected at start (persisted)")
        lastTick = r.makeGauge(name: MetricNames.watchdogLastTick, help: "Unix time of the watchdog's last tick")
        engineUp = r.makeGauge(name: MetricNames.engineUp, help: "1 when the storage engine answers, else 0")
        engineRestarts = r.makeCounter(name: MetricNames.engineRestartsTotal, help: "Times the supervisor restarted the engine")
        unclean.increment(by: Int64(uncleanShutdownTotal))
        let g = r.makeGauge(name: MetricNames.mode, labels: [("mode", mode.rawValue)], help: "Current write mode: the series with the current mode is 1")
        g.set(to: 1.0)
        modeGauge = Mutex((mode, g))
    }

    public func recordTick(freePct: Double, at time: Date) {
        diskFree.set(to: freePct)
        lastTick.set(to: time.timeIntervalSince1970)
    }

    public func setMode(_ mode: Mode) {
        modeGauge.withLock { current in
            guard current.mode != mode else { return }
            registry.unregisterGauge(current.gauge)
            let g = registry.makeGauge(name: MetricNames.mode, labels: [("mode", mode.rawValue)], help: "Current write mode: the series with the current mode is 1")
            g.set(to: 1.0)
            current = (mode, g)
        }
    }

    public func setEngineUp(_ up: Bool) { engineUp.set(to: up ? 1.0 : 0.0) }

    public func engineRestarted() { engineRestarts.increment() }

    /// Prometheus text exposition, with uptime brought up to date.
    public func render(startedAt: Date, now: Date = Date()) -> String {
        uptime.set(to: max(0, now.timeIntervalSince(startedAt)))
        return registry.emitToString()
    }
}
