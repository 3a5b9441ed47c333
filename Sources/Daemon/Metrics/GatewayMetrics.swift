import Foundation
import Prometheus
import Synchronization

/// The front door's counters on :3904, and per-bucket traffic waiting to be rolled up into the
/// state DB (for `bucket info`'s 1h/24h/7d).
public final class GatewayMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    private let duration: DurationHistogram
    private let bytesIn: Counter
    private let bytesOut: Counter
    private let activeGrants: Gauge
    private let uploadsAborted: Counter
    private let changeEvents: Counter
    private let changeFollowers: Gauge
    private let changeTailStarts: Counter
    private let followers = Mutex(0)
    private let pending = Mutex<[String: TrafficWindow]>([:])

    /// Requests and bytes per minute of the last hour (the dashboard's charts).
    public let history = TrafficHistory()

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        duration = registry.makeDurationHistogram(
            name: MetricNames.s3Duration,
            buckets: [.microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                      .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5), .seconds(30)],
            help: "Time from request head to response head through the S3 gateway")
        bytesIn = registry.makeCounter(name: MetricNames.s3BytesIn, help: "Request payload bytes accepted by the S3 gateway")
        bytesOut = registry.makeCounter(name: MetricNames.s3BytesOut, help: "Response payload bytes sent by the S3 gateway")
        activeGrants = registry.makeGauge(name: MetricNames.activeGrants, help: "Grants that are active and not expired")
        uploadsAborted = registry.makeCounter(name: MetricNames.uploadsAborted,
                                              help: "Multipart uploads the janitor aborted because they were left unfinished too long")
        changeEvents = registry.makeCounter(name: MetricNames.changeEvents, help: "Object changes the engine reported into the change feed")
        changeFollowers = registry.makeGauge(name: MetricNames.changeFollowers, help: "Streams of GET ?changes open now (mounts following a bucket)")
        changeTailStarts = registry.makeCounter(name: MetricNames.changeTailStarts,
                                                help: "Times the engine's metadata tail was started (more than one per engine start: it was interrupted)")
    }

    func changesReported(_ n: Int) { if n > 0 { changeEvents.increment(by: Int64(n)) } }
    func changeTailStarted() { changeTailStarts.increment() }
    /// A follower's stream opened (+1) or ended (-1).
    func changeFollowing(_ delta: Int) {
        let n = followers.withLock { f -> Int in
            f += delta
            return f
        }
        changeFollowers.set(to: Double(n))
    }

    func abortedUploads(_ n: Int) { if n > 0 { uploadsAborted.increment(by: Int64(n)) } }

    func request(op: String, status: Int, duration d: Duration, bytesIn i: Int64, bytesOut o: Int64, bucket: String?) {
        registry.makeCounter(name: MetricNames.s3Requests, labels: [("op", op), ("status", "\(status)")]).increment()
        duration.record(d)
        history.record(bytesIn: i, bytesOut: o)
        if i > 0 { bytesIn.increment(by: i) }
        if o > 0 { bytesOut.increment(by: o) }
        if let bucket {
            pending.withLock { p in
                var w = p[bucket] ?? TrafficWindow()
                w.ops += 1
                w.bytesIn += i
                w.bytesOut += o
                p[bucket] = w
            }
        }
    }

    func denied(reason: String) {
        registry.makeCounter(name: MetricNames.s3Denied, labels: [("reason", reason)]).increment()
    }

    func setActiveGrants(_ n: Int) { activeGrants.set(to: Double(n)) }

    /// Takes the traffic counted since the last call.
    func drainTraffic() -> [String: TrafficWindow] {
        pending.withLock { p in
            defer { p = [:] }
            return p
        }
    }
}
