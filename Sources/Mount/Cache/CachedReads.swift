import Foundation
import Synchronization

/// Reads of one version of an object (key, ETag, size) through the block cache, when there is
/// one: blocks the cache holds are read from disk; a read that misses fetches from the store the
/// blocks around it (`fetchSize` bytes, aligned, so neighbouring reads hit) and hands them to
/// the cache in the background. Without a cache, or for an object with no ETag, every read goes
/// to the store as asked.
public final class CachedReads: Sendable {
    public let store: any ObjectStore
    public let cache: BlockCache?
    /// Bytes fetched around a read that misses: a multiple of the cache's block size.
    let fetchSize: Int64
    let writer: BlockWriter?
    /// Where whole-object fills run (see `fillAfterRandomMisses`); nil: none run.
    let pool: WorkerPool?
    /// Misses per object version read at random; `.max` once its fill started.
    private let randomMisses = Mutex<[String: Int]>([:])
    /// An object read at random is filled whole (in the background) up to this size.
    static let fillLimit: Int64 = 1 << 30
    /// Told of each window such a fill fetched (key, ETag, offset, bytes), on the fill's thread.
    typealias Filled = @Sendable (String, String, Int64, UnsafeRawBufferPointer) -> Void
    private let filled = Mutex<Filled?>(nil)

    public init(store: any ObjectStore, cache: BlockCache?, fetchSize: Int64 = 4 << 20, pool: WorkerPool? = nil) {
        self.store = store
        self.cache = cache
        self.pool = pool
        let bs = Int64(cache?.blockSize ?? 1)
        self.fetchSize = max(bs, fetchSize / bs * bs)
        writer = cache.map { BlockWriter(cache: $0) }
    }

    /// Bytes `range` (inside the object) and whether they all came from the cache.
    public func read(key: String, etag: String?, size: Int64, range: Range<Int64>) throws -> (data: Data, hit: Bool) {
        guard let cache, let etag, !range.isEmpty else {
            return (try store.read(key, range: range, etag: etag), false)
        }
        var cached = Data(count: range.count)
        if cached.withUnsafeMutableBytes({ cachedBytes(cache, key: key, etag: etag, range: range, into: $0) }) { return (cached, true) }
        let id = key + "\u{0}" + etag
        if randomMisses.withLock({ $0[id] == .max }) {
            // The whole object is on its way (see `fillAfterRandomMisses`): only what is asked.
            return (try store.read(key, range: range, etag: etag), false)
        }
        let bs = Int64(cache.blockSize)
        let lo = range.lowerBound / fetchSize * fetchSize
        let hi = min(size, max(lo + fetchSize, (range.upperBound + bs - 1) / bs * bs))
        let fetched = try store.read(key, range: lo..<hi, etag: etag)
        guard Int64(fetched.count) == hi - lo else { throw VFSError(.io, "\(key): the store sent \(fetched.count) of \(hi - lo) bytes") }
        fetched.withUnsafeBytes { keep($0, key: key, etag: etag, from: lo, size: size) }
        fillAfterRandomMisses(cache, id: id, key: key, etag: etag, size: size)
        let start = fetched.startIndex + Int(range.lowerBound - lo)
        return (fetched.subdata(in: start ..< start + range.count), false)
    }

    /// `read` into caller-owned memory of at least `range.count` bytes (a read-ahead chunk, which
    /// starts on a block boundary); returns how many came, and whether from the cache. What the
    /// store sent is not kept here: see `keep(chunk:)`.
    func read(key: String, etag: String?, size: Int64, range: Range<Int64>, into buffer: UnsafeMutableRawBufferPointer) throws -> (count: Int, cached: Bool) {
        guard let cache, let etag, !range.isEmpty else {
            return (try store.read(key, range: range, etag: etag, into: buffer), false)
        }
        if cachedBytes(cache, key: key, etag: etag, range: range, into: buffer) { return (range.count, true) }
        return (try store.read(key, range: range, etag: etag, into: buffer), false)
    }

    /// Keeps a read-ahead chunk (which starts on a block boundary at `from`) in the cache, from
    /// the chunk's own memory, on the calling thread.
    func keep(chunk: Data, key: String, etag: String?, from: Int64, size: Int64) {
        guard let cache, let etag, from % Int64(cache.blockSize) == 0 else { return }
        // Also over blocks it holds: one of them may be damaged (the chunk missed).
        chunk.withUnsafeBytes { storeBlocks(cache, $0, key: key, etag: etag, from: from, size: size) }
    }

    /// Stores the blocks of `data` (which starts on a block boundary at `from`) on the calling
    /// thread; a piece shorter than a block only when it ends the object (`size`).
    private func storeBlocks(_ cache: BlockCache, _ data: UnsafeRawBufferPointer, key: String, etag: String, from: Int64, size: Int64) {
        let bs = cache.blockSize
        var offset = 0
        while offset < data.count {
            let n = min(bs, data.count - offset)
            guard n == bs || from + Int64(offset + n) == size else { return }
            cache.store(key: key, etag: etag, index: (from + Int64(offset)) / Int64(bs),
                        bytes: UnsafeRawBufferPointer(rebasing: data[offset ..< offset + n]))
            offset += n
        }
    }

    /// A file read at random that missed twice is fetched whole into the cache in the background
    /// (4 ranged GETs at a time, skipping what is there), as s3fs does: random readers of a file
    /// tend to come back everywhere; meanwhile a read that misses fetches only what it asks.
    /// Only for objects up to `fillLimit` and a quarter of the cache's capacity; a change of the
    /// object (stale) stops it.
    private func fillAfterRandomMisses(_ cache: BlockCache, id: String, key: String, etag: String, size: Int64) {
        guard let pool, size <= Self.fillLimit, size <= cache.stats.capacity / 4 else { return }
        let start = randomMisses.withLock { m -> Bool in
            if m.count >= 1024 { m = m.filter { $0.value == .max } }
            let n = m[id, default: 0]
            guard n != .max else { return false }
            m[id] = n + 1 >= 2 ? .max : n + 1
            return n + 1 >= 2
        }
        guard start else { return }
        let bs = Int64(cache.blockSize)
        let windows = (size + fetchSize - 1) / fetchSize
        let next = Mutex<Int64>(0)
        for _ in 0..<4 {
            pool.submit { [self] in
                // SAFETY: `memory` is `fetchSize` bytes this worker alone uses, freed when it ends.
                let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(fetchSize), alignment: 64)
                defer { memory.deallocate() }
                while true {
                    let w = next.withLock { n -> Int64 in defer { n += 1 }; return n }
                    guard w < windows else { return }
                    let lo = w * fetchSize, hi = min(size, lo + fetchSize)
                    let blocks = (lo / bs)...((hi - 1) / bs)
                    let dest = UnsafeMutableRawBufferPointer(rebasing: memory[0 ..< Int(hi - lo)])
                    if blocks.allSatisfy({ cache.holds(key: key, etag: etag, index: $0) }) {
                        // Kept already (a miss's window): offered too, read back from the disk.
                        if let f = filled.withLock({ $0 }), cachedBytes(cache, key: key, etag: etag, range: lo..<hi, into: dest, counted: false) {
                            f(key, etag, lo, UnsafeRawBufferPointer(dest))
                        }
                        continue
                    }
                    guard let n = try? store.read(key, range: lo..<hi, etag: etag, into: dest), Int64(n) == hi - lo else {
                        next.withLock { $0 = windows }  // changed or failing: the reads fetch what they need
                        return
                    }
                    storeBlocks(cache, UnsafeRawBufferPointer(dest), key: key, etag: etag, from: lo, size: size)
                    filled.withLock { $0 }?(key, etag, lo, UnsafeRawBufferPointer(dest))
                }
            }
        }
    }

    /// Sets (or, nil, removes) what is told of the windows whole-object fills fetch.
    func attachFilled(_ f: Filled?) { filled.withLock { $0 = f } }

    /// Whether every block of `range` was in the cache: then `buffer` holds the bytes.
    private func cachedBytes(_ cache: BlockCache, key: String, etag: String, range: Range<Int64>, into buffer: UnsafeMutableRawBufferPointer,
                             counted: Bool = true) -> Bool {
        let bs = Int64(cache.blockSize)
        for i in range.lowerBound / bs ... (range.upperBound - 1) / bs {
            let blockStart = i * bs
            let lo = max(range.lowerBound, blockStart), hi = min(range.upperBound, blockStart + bs)
            let dest = UnsafeMutableRawBufferPointer(rebasing: buffer[Int(lo - range.lowerBound) ..< Int(hi - range.lowerBound)])
            guard cache.read(key: key, etag: etag, index: i, range: Int(lo - blockStart) ..< Int(hi - blockStart), into: dest, counted: counted) else { return false }
        }
        return true
    }

    /// Hands the whole blocks of `data` (which starts on a block boundary at `from`) to the cache;
    /// a piece shorter than a block is kept only when it ends the object (`size`).
    private func keep(_ data: UnsafeRawBufferPointer, key: String, etag: String, from: Int64, size: Int64) {
        guard let writer, let cache else { return }
        let bs = cache.blockSize
        var offset = 0
        while offset < data.count {
            let n = min(bs, data.count - offset)
            guard n == bs || from + Int64(offset + n) == size, writer.hasRoom(n) else { return }
            let block = Data(UnsafeRawBufferPointer(rebasing: data[offset ..< offset + n]))
            writer.submit(.block(key: key, etag: etag, index: (from + Int64(offset)) / Int64(bs), data: block))
            offset += n
        }
    }

    /// Blocks of a file just uploaded as version `etag`, read from its staging file in the
    /// background by `readBlock`, which answers nil once the file is no longer that version
    /// (written again, or gone): the rest is then not kept.
    /// Only files of a block or more: a small file is one short GET to read again, while a block
    /// file for each small file created cost creates a quarter of their rate (bench/creates.sh).
    func keepUploaded(key: String, etag: String, size: Int64, readBlock: @escaping @Sendable (Range<Int64>) -> Data?) {
        guard let writer, let cache, size >= Int64(cache.blockSize) else { return }
        writer.submit(.file(key: key, etag: etag, size: size, read: readBlock))
    }

    /// Waits until the blocks handed over so far are written (tests, and unmount).
    public func drain() { writer?.drain() }

    /// Ends the background writer once what is queued is written.
    public func close() { writer?.stop() }
}

/// Writes blocks to the cache on one background thread, so reads never wait for the disk; at
/// most `limit` bytes of blocks wait (beyond that a block is dropped, not queued), which bounds
/// memory. A file's blocks are read one at a time when their turn comes.
final class BlockWriter: Sendable {
    enum Job: Sendable {
        case block(key: String, etag: String, index: Int64, data: Data)
        case file(key: String, etag: String, size: Int64, read: @Sendable (Range<Int64>) -> Data?)

        var bytes: Int { if case .block(_, _, _, let d) = self { d.count } else { 0 } }
    }

    let cache: BlockCache
    let limit: Int
    private struct Pending {
        var queue: [Job] = []
        var bytes = 0
        var busy = false
        var stopped = false
    }
    // SAFETY: `pending` is read and written only with `cond` locked.
    private let cond = NSCondition()
    private nonisolated(unsafe) var pending = Pending()

    init(cache: BlockCache, limit: Int = 32 << 20) {
        self.cache = cache
        self.limit = limit
        let t = Thread { [self] in self.run() }
        t.name = "gt-block-writer"
        t.start()
    }

    /// Queues `job`; when `limit` bytes wait already, drops it, or with `wait` waits for room.
    func submit(_ job: Job, wait: Bool = false) {
        cond.lock()
        defer { cond.unlock() }
        while wait && !pending.stopped && pending.bytes > 0 && pending.bytes + job.bytes > limit { cond.wait() }
        guard !pending.stopped, pending.bytes + job.bytes <= limit else { return }
        pending.queue.append(job)
        pending.bytes += job.bytes
        cond.broadcast()
    }

    /// Whether `bytes` more would be queued now (so a block is not copied only to be dropped).
    func hasRoom(_ bytes: Int) -> Bool {
        cond.lock()
        defer { cond.unlock() }
        return pending.bytes + bytes <= limit
    }

    func drain() {
        cond.lock()
        while !pending.queue.isEmpty || pending.busy { cond.wait() }
        cond.unlock()
    }

    /// Writes what is queued, then ends the thread.
    func stop() {
        cond.lock()
        pending.stopped = true
        cond.broadcast()
        cond.unlock()
    }

    private func run() {
        while true {
            cond.lock()
            while pending.queue.isEmpty && !pending.stopped { cond.wait() }
            if pending.queue.isEmpty { cond.unlock(); return }
            let job = pending.queue.removeFirst()
            pending.busy = true
            cond.unlock()
            switch job {
            case .block(let key, let etag, let index, let data):
                cache.store(key: key, etag: etag, index: index, data: data)
            case .file(let key, let etag, let size, let read):
                let bs = Int64(cache.blockSize)
                var lo: Int64 = 0
                while lo < size, let block = read(lo..<min(size, lo + bs)), Int64(block.count) == min(size, lo + bs) - lo {
                    cache.store(key: key, etag: etag, index: lo / bs, data: block)
                    lo += bs
                }
            }
            cond.lock()
            pending.bytes -= job.bytes
            pending.busy = false
            cond.broadcast()
            cond.unlock()
        }
    }
}
