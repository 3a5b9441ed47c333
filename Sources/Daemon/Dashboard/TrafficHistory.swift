import Foundation
import Synchronization

/// The gateway's requests and bytes per minute over the last hour, for the dashboard's charts.
public final class TrafficHistory: Sendable {
    public struct Minute: Sendable, Equatable {
        public var minute: Int64
        public var requests: Int64 = 0
        public var bytesIn: Int64 = 0
        public var bytesOut: Int64 = 0
    }

    static let minutes = 60
    private let ring = Mutex<[Minute]>([])
    let now: @Sendable () -> Date

    public init(now: @escaping @Sendable () -> Date = { Date() }) { self.now = now }

    func record(bytesIn: Int64, bytesOut: Int64) {
        let m = Int64(now().timeIntervalSince1970 / 60)
        ring.withLock { r in
            if r.last?.minute != m { r.append(Minute(minute: m)) }
            r[r.count - 1].requests += 1
            r[r.count - 1].bytesIn += bytesIn
            r[r.count - 1].bytesOut += bytesOut
            if r.count > Self.minutes { r.removeFirst(r.count - Self.minutes) }
        }
    }

    /// The last 60 minutes, oldest first, the current one last; minutes without requests are zero.
    public var lastHour: [Minute] {
        let current = Int64(now().timeIntervalSince1970 / 60)
        let byMinute = ring.withLock { Dictionary($0.map { ($0.minute, $0) }, uniquingKeysWith: { a, _ in a }) }
        return (0..<Int64(Self.minutes)).reversed().map { back in byMinute[current - back] ?? Minute(minute: current - back) }
    }
}
