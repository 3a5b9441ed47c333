import DequeModule
import Foundation
import Synchronization

/// The engine's recent object changes, kept in memory for followers (mounts) to read from a
/// position: every change after `coveredFrom` is here, up to `capacity` of them (older ones
/// are dropped and the coverage moves up). A follower whose position is older than that has
/// missed changes and is told to revalidate everything (`Read.reset`).
public final class ChangeFeed: Sendable {
    struct State {
        var events: Deque<ChangeEvent> = []
        /// Every change later than this is in `events` (0: nothing is covered yet).
        var coveredFrom: UInt64 = 0
        /// The newest position known (the last event's, or the tail's start).
        var head: UInt64 = 0
        /// Counts appends: a follower waits only if none came since it looked.
        var generation: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
        var closed = false
    }

    let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int = 16_384) { self.capacity = capacity }

    /// What a follower at `after` gets next.
    public enum Read: Equatable, Sendable {
        /// The changes of `bucket` after the position (maybe none), and the new position.
        case changes([ChangeEvent], position: UInt64)
        /// Changes after the position were dropped or never seen: start again from `position`.
        case reset(position: UInt64)
        /// The feed has stopped (the daemon is stopping).
        case closed
    }

    /// The tail (re)started: it delivers every change after `from` (nanoseconds).
    func covering(from: UInt64) {
        state.withLock { s in
            // A restarted tail that resumes where the last one stopped keeps the coverage.
            if s.coveredFrom == 0 || from > s.head { s.coveredFrom = max(s.coveredFrom, from) }
            s.head = max(s.head, from)
        }
    }

    /// Adds changes (in order) and wakes every waiting follower.
    func append(_ changes: [ChangeEvent]) {
        guard !changes.isEmpty else { return }
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            for c in changes where c.seq > s.head || (c.seq == s.head && s.events.last != c) {
                s.events.append(c)
                s.head = max(s.head, c.seq)
            }
            s.generation &+= 1
            while s.events.count > capacity, let dropped = s.events.popFirst() { s.coveredFrom = max(s.coveredFrom, dropped.seq) }
            defer { s.waiters = [:] }
            return Array(s.waiters.values)
        }
        for w in waiters { w.resume() }
    }

    /// Ends every follower's stream.
    public func close() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.closed = true
            defer { s.waiters = [:] }
            return Array(s.waiters.values)
        }
        for w in waiters { w.resume() }
    }

    /// Whether a tail has started (before that, no position can be promised).
    public var isCovering: Bool { state.withLock { $0.coveredFrom > 0 } }

    /// The newest position.
    public var head: UInt64 { state.withLock { $0.head } }

    /// The changes of `bucket` after `after` (nil: from now on), waiting up to `wait` for one.
    public func read(bucket: String, after: UInt64?, wait: Duration) async -> Read {
        let deadline = ContinuousClock.now + wait
        let position = after
        while true {
            let (now, generation, head) = state.withLock { s -> (Read?, UInt64, UInt64) in
                if s.closed { return (.closed, s.generation, s.head) }
                guard s.coveredFrom > 0 else { return (nil, s.generation, s.head) }
                guard let p = position else { return (.changes([], position: s.head), s.generation, s.head) }
                if p < s.coveredFrom { return (.reset(position: s.head), s.generation, s.head) }
                let found = Array(Self.after(p, in: s.events).lazy.filter { $0.bucket == bucket })
                return (found.isEmpty ? nil : .changes(found, position: max(p, s.head)), s.generation, s.head)
            }
            if let now { return now }
            if ContinuousClock.now >= deadline { return .changes([], position: max(position ?? 0, head)) }
            await waitForAppend(since: generation, until: deadline)
        }
    }

    /// The events later than `p` (binary search: they are in order).
    static func after(_ p: UInt64, in events: Deque<ChangeEvent>) -> Slice<Deque<ChangeEvent>> {
        var lo = 0, hi = events.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if events[mid].seq <= p { lo = mid + 1 } else { hi = mid }
        }
        return events[lo...]
    }

    private func waitForAppend(since generation: UInt64, until deadline: ContinuousClock.Instant) async {
        let id = state.withLock { s -> UInt64 in
            s.nextWaiter += 1
            return s.nextWaiter
        }
        let timer = Task {
            try? await Task.sleep(until: deadline, clock: .continuous)
            let w = state.withLock { $0.waiters.removeValue(forKey: id) }
            w?.resume()
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { s -> Bool in
                if s.closed || s.generation != generation || ContinuousClock.now >= deadline { return true }
                s.waiters[id] = c
                return false
            }
            if resumeNow { c.resume() }
        }
        timer.cancel()
    }
}
