import Synchronization

/// One daemon-wide budget for the memory request bodies hold in the gateway: small PUTs received
/// whole, and aws-chunked chunks held until their signature is checked. 1024 connections may each
/// ask for up to 16 MiB; together they get at most `limit` bytes, so one grant holder cannot take
/// the daemon's memory. A small PUT that does not fit streams instead; a chunk that does not fit is
/// refused with 503 SlowDown, which SDKs retry.
public final class RequestMemory: Sendable {
    public let limit: Int
    private let used = Mutex(0)

    public init(limit: Int = 256 << 20) {
        self.limit = limit
    }

    /// Takes `bytes` from the budget if they fit; returns whether they did.
    public func reserve(_ bytes: Int) -> Bool {
        guard bytes > 0 else { return true }
        return used.withLock { u in
            guard u + bytes <= limit else { return false }
            u += bytes
            return true
        }
    }

    public func release(_ bytes: Int) {
        guard bytes > 0 else { return }
        used.withLock { $0 = max(0, $0 - bytes) }
    }

    public var inUse: Int { used.withLock { $0 } }
}
