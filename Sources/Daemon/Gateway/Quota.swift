import Foundation
import Synchronization

/// Bucket usage for quota admission: the engine's count from the last scan, plus what the gateway
/// stored since, plus what is in flight. An upload is admitted only if all of that plus its own
/// size fits the quota, so concurrent uploads cannot overshoot together. Overwrites and deletes
/// are seen at the next scan (usage errs on the side of refusing).
public final class UsageTracker: Sendable {
    struct Entry: Sendable {
        var scannedBytes: Int64 = 0
        var scannedObjects: Int64 = 0
        var stored: Int64 = 0
        var inFlight: Int64 = 0
        var scanned = false
    }

    public struct Refusal: Error, Sendable, Equatable {
        public var message: String
    }

    private let entries = Mutex<[String: Entry]>([:])

    public init() {}

    /// Reserves `bytes` in `bucket` if they fit `quota` (nil: unlimited); returns the reservation.
    public func admit(bucket: String, bytes: Int64, quota: Int64?) throws -> Int64 {
        try entries.withLock { all in
            var e = all[bucket] ?? Entry()
            let used = e.scannedBytes + e.stored + e.inFlight
            if let quota, used + bytes > quota {
                throw Refusal(message: "bucket \(bucket) would exceed its quota of \(BucketSpec.sizeText(quota)): \(used) bytes used or in flight, this upload adds \(bytes) — delete objects or create a bucket with a larger quota")
            }
            e.inFlight += bytes
            all[bucket] = e
            return bytes
        }
    }

    /// Ends a reservation: stored (the engine said yes) or released.
    public func settle(bucket: String, bytes: Int64, stored: Bool) {
        entries.withLock { all in
            guard var e = all[bucket] else { return }
            e.inFlight -= bytes
            if stored { e.stored += bytes }
            all[bucket] = e
        }
    }

    /// Replaces the scanned usage; `storedBefore` is `stored` as read when the scan began, so uploads
    /// that finished during the scan stay counted.
    public func scanned(bucket: String, usage: BucketUsage, storedBefore: Int64) {
        entries.withLock { all in
            var e = all[bucket] ?? Entry()
            e.scannedBytes = usage.bytes
            e.scannedObjects = usage.objects
            e.stored -= min(e.stored, storedBefore)
            e.scanned = true
            all[bucket] = e
        }
    }

    public func storedSinceScan(bucket: String) -> Int64 { entries.withLock { $0[bucket]?.stored ?? 0 } }

    /// Bytes and objects as last known (scan + stored since).
    public func usage(bucket: String) -> BucketUsage {
        entries.withLock { all in
            let e = all[bucket] ?? Entry()
            return BucketUsage(bytes: e.scannedBytes + e.stored, objects: e.scannedObjects)
        }
    }

    public func forget(bucket: String) { _ = entries.withLock { $0.removeValue(forKey: bucket) } }
}
