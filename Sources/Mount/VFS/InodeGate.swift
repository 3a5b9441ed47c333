import Foundation

/// One holder per inode at a time: a file's uploads run one after the other, so an older upload
/// can never land after a newer one (a `close` of an inherited descriptor flushes while the
/// writer is still writing, and its upload must not overwrite the writer's own).
final class InodeGate: @unchecked Sendable {
    // SAFETY: `held` and `waiting` are read and written only with `cond` locked.
    private let cond = NSCondition()
    private var held: Set<UInt64> = []
    private var waiting = 0

    func withExclusive<T>(_ ino: UInt64, _ body: () throws -> T) rethrows -> T {
        cond.lock()
        waiting += 1
        while held.contains(ino) { cond.wait() }
        waiting -= 1
        held.insert(ino)
        cond.unlock()
        defer {
            cond.lock()
            held.remove(ino)
            cond.broadcast()
            cond.unlock()
        }
        return try body()
    }

    /// Callers waiting for an inode another holds (for tests).
    var waiters: Int {
        cond.lock()
        defer { cond.unlock() }
        return waiting
    }
}
