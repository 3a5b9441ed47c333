import Foundation
import Synchronization

/// Read-ahead for one handle open for reading: while the reads are sequential, the object is
/// fetched in chunks by parallel ranged GETs on the pool (or read from the block cache), `window` chunks ahead of the reader,
/// the window doubling up to `maxWindow` as the reader keeps going. A read that jumps elsewhere
/// is served from chunks already fetched or else not here (`read` returns nil: it goes to the
/// store directly, or to the block cache: see `CachedReads`), and never fetches ahead. Memory
/// per handle stays below `(maxWindow + 2) × chunkSize`.
final class ReadAhead: @unchecked Sendable {
    enum Chunk {
        case pending
        case ready(Data)
        case failed(any Error)
    }

    struct Tuning: Sendable {
        var chunkSize: Int64 = 8 << 20
        var initialWindow = 2
        var maxWindow = 8
    }

    let key: String
    let etag: String?
    let size: Int64
    let tuning: Tuning
    let reads: CachedReads
    let pool: WorkerPool
    /// Chunk memory reused from GET to GET: a fresh 8 MiB allocation is fresh pages, each faulted
    /// in and zeroed by the kernel before the GET's bytes overwrite it.
    let buffers: ChunkBuffers

    // SAFETY: every field below is read and written with `cond` locked.
    private let cond = NSCondition()
    private var chunks: [Int64: Chunk] = [:]
    private var window: Int
    private var lastEnd: Int64 = 0
    private var lastChunk: Int64 = -1
    private var cancelled = false
    private var streak = 0
    static let slack: Int64 = 1 << 20

    init(key: String, etag: String?, size: Int64, tuning: Tuning = Tuning(), reads: CachedReads, pool: WorkerPool) {
        self.key = key
        self.etag = etag
        self.size = size
        self.tuning = tuning
        self.reads = reads
        self.pool = pool
        self.buffers = ChunkBuffers(size: Int(tuning.chunkSize), keep: tuning.maxWindow + 2)
        self.window = tuning.initialWindow
    }

    /// Bytes `offset..<offset+count` (cut at the end of the object) and whether they had all
    /// arrived already (a hit), or nil when the read is not part of a sequential run.
    func read(offset: Int64, count: Int) throws -> (data: Data, hit: Bool)? {
        let end = min(size, offset + Int64(count))
        guard offset < end else { return (Data(), true) }
        let cs = tuning.chunkSize
        let first = offset / cs, last = (end - 1) / cs
        cond.lock()
        defer { cond.unlock() }
        // Sequential: continues the last read (the kernel's own read-ahead may deliver reads a
        // little out of order) twice in a row, or starts the file. Only a sequential read fetches
        // ahead; any other read is served here only when its chunks were asked for already (so a
        // random read that lands in one costs nothing and fetches nothing more).
        let near = abs(offset - lastEnd) <= Self.slack
        streak = near ? streak + 1 : 0
        lastEnd = end
        let sequential = offset == 0 || streak >= 2
        guard !cancelled, sequential || (first...last).allSatisfy({ chunks[$0] != nil }) else {
            if !near { window = tuning.initialWindow }
            return nil
        }
        if sequential { fetchAhead(first: first, last: last) }
        var waited = false

        // Each chunk's part of the read is a slice of it (no copy); a read inside one chunk — the
        // common case — is answered with that slice alone.
        var pieces: [Data] = []
        for i in first...last {
            while true {
                switch chunks[i] {
                case .ready(let d):
                    let lo = Int(max(offset, i * cs) - i * cs)
                    let hi = Int(min(end, i * cs + Int64(d.count)) - i * cs)
                    if lo < hi { pieces.append(d[d.startIndex + lo ..< d.startIndex + hi]) }
                case .failed(let e):
                    chunks[i] = nil
                    throw e
                case .pending:
                    waited = true
                    cond.wait()
                    continue
                case nil:
                    waited = true
                    schedule(i)
                    continue
                }
                break
            }
        }
        if pieces.count == 1 { return (pieces[0], !waited) }
        var out = Data(capacity: Int(end - offset))
        for p in pieces { out.append(p) }
        return (out, !waited)
    }

    /// Schedules the chunks from `first` to the window's end and forgets those outside it; the
    /// window doubles when the reader moved on to the next chunk. Called with `cond` locked.
    private func fetchAhead(first: Int64, last: Int64) {
        if first != lastChunk {
            if lastChunk >= 0 && first == lastChunk + 1 { window = min(tuning.maxWindow, window * 2) }
            lastChunk = first
        }
        let finalChunk = (size - 1) / tuning.chunkSize
        let ahead = min(finalChunk, max(last, first + Int64(window) - 1))
        for i in first...ahead where chunks[i] == nil { schedule(i) }
        for k in chunks.keys where k < first - 1 || k > ahead + 1 { chunks[k] = nil }
    }

    /// Stops scheduling; fetches under way finish and are dropped.
    func cancel() {
        cond.lock()
        cancelled = true
        chunks.removeAll()
        cond.broadcast()
        cond.unlock()
        buffers.close()
    }

    /// Marks chunk `i` pending and queues its GET. Called with `cond` locked.
    private func schedule(_ i: Int64) {
        chunks[i] = .pending
        let lo = i * tuning.chunkSize, hi = min(size, lo + tuning.chunkSize)
        pool.submit { [self] in
            cond.lock()
            let wanted = !cancelled && chunks[i] != nil
            cond.unlock()
            guard wanted else { return }
            let result: Chunk
            var fetched = false
            let memory = buffers.take()
            do {
                // SAFETY: `memory` is `tuning.chunkSize` ≥ hi - lo bytes that this GET alone uses until
                // it is wrapped below; the Data then owns it and hands it back to `buffers` when its
                // last slice is gone (or `giveBack` below, if the GET failed).
                let (n, hit) = try reads.read(key: key, etag: etag, size: size, range: lo..<hi,
                                              into: UnsafeMutableRawBufferPointer(start: memory, count: Int(hi - lo)))
                result = .ready(Data(bytesNoCopy: memory, count: n, deallocator: .custom { [buffers] p, _ in buffers.giveBack(p) }))
                fetched = !hit
            } catch {
                buffers.giveBack(memory)
                result = .failed(error)
            }
            cond.lock()
            if !cancelled, case .pending = chunks[i] { chunks[i] = result }
            cond.broadcast()
            cond.unlock()
            // The chunk for the block cache, once the reader may have it (`d` keeps its memory).
            if fetched, case .ready(let d) = result, Int64(d.count) == hi - lo { reads.keep(chunk: d, key: key, etag: etag, from: lo, size: size) }
        }
    }
}

/// Fixed-size chunk memory for one read-ahead: taken for a GET, given back when the chunk's last
/// `Data` goes; at most `keep` idle ones are kept, none after `close`.
final class ChunkBuffers: Sendable {
    let size: Int
    let keep: Int
    private struct Idle: @unchecked Sendable {
        // SAFETY: the pointers are memory no one else uses; they move in and out under the lock.
        var free: [UnsafeMutableRawPointer] = []
        var closed = false
    }
    private let state: Mutex<Idle>

    init(size: Int, keep: Int) {
        self.size = size
        self.keep = keep
        state = Mutex(Idle())
    }

    deinit { state.withLock { $0.free.forEach { $0.deallocate() } } }

    func take() -> UnsafeMutableRawPointer {
        state.withLock { $0.free.popLast() } ?? UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
    }

    func giveBack(_ p: UnsafeMutableRawPointer) {
        let kept = state.withLock { s -> Bool in
            guard !s.closed, s.free.count < keep else { return false }
            s.free.append(p)
            return true
        }
        if !kept { p.deallocate() }
    }

    var idleCount: Int { state.withLock { $0.free.count } }

    /// The read-ahead ended: idle memory goes now, memory still in use when it comes back.
    func close() {
        let idle = state.withLock { s -> [UnsafeMutableRawPointer] in
            s.closed = true
            defer { s.free = [] }
            return s.free
        }
        idle.forEach { $0.deallocate() }
    }
}
