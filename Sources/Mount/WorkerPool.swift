import Foundation

/// A fixed set of threads that run blocking jobs (ranged GETs, multipart parts) so that several
/// object requests are in flight at once. libdispatch's global queues on Linux do not grow when
/// their threads block on the network, so the pool owns its threads.
public final class WorkerPool: @unchecked Sendable {
    // SAFETY: `jobs` and `stopping` are only touched with `cond` locked.
    private let cond = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var head = 0
    private var stopping = false
    public let threads: Int

    public init(threads: Int, name: String) {
        self.threads = threads
        for i in 0..<threads {
            let t = Thread { [self] in self.work() }
            t.name = "\(name)-\(i)"
            t.stackSize = 512 << 10
            t.start()
        }
    }

    /// Runs `job` on one of the pool's threads, in submission order.
    public func submit(_ job: @escaping @Sendable () -> Void) {
        cond.lock()
        jobs.append(job)
        cond.signal()
        cond.unlock()
    }

    /// Lets the threads end once the queued jobs are done.
    public func shutdown() {
        cond.lock()
        stopping = true
        cond.broadcast()
        cond.unlock()
    }

    private func work() {
        while true {
            cond.lock()
            while head == jobs.count && !stopping { cond.wait() }
            if head == jobs.count {
                cond.unlock()
                return
            }
            let job = jobs[head]
            head += 1
            if head > 256 && head * 2 > jobs.count {
                jobs.removeFirst(head)
                head = 0
            }
            cond.unlock()
            job()
        }
    }
}

/// Runs `body(i)` for `i` in `0..<count` on `width` threads of the calling context and returns when
/// all have finished; the first error thrown is rethrown (the other workers stop taking new items).
public func parallelFor(_ count: Int, width: Int, _ body: @escaping @Sendable (Int) throws -> Void) throws {
    guard count > 0 else { return }
    let box = ParallelState()
    let group = DispatchGroup()
    let workers = max(1, min(width, count))
    for _ in 0..<workers {
        group.enter()
        let t = Thread {
            defer { group.leave() }
            while let i = box.next(limit: count) {
                do { try body(i) } catch { box.fail(error) }
            }
        }
        t.stackSize = 512 << 10
        t.start()
    }
    group.wait()
    if let e = box.error { throw e }
}

private final class ParallelState: @unchecked Sendable {
    // SAFETY: every field is read and written with `lock` held.
    private let lock = NSLock()
    private var index = 0
    private var firstError: (any Error)?

    func next(limit: Int) -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard firstError == nil, index < limit else { return nil }
        index += 1
        return index - 1
    }

    func fail(_ e: any Error) {
        lock.lock(); defer { lock.unlock() }
        if firstError == nil { firstError = e }
    }

    var error: (any Error)? {
        lock.lock(); defer { lock.unlock() }
        return firstError
    }
}
