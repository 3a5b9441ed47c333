import Foundation
import Synchronization

/// A multipart upload that runs while a file is being written: once the file has grown a part
/// beyond part `i`, part `i` is read from the staging file and uploaded on the pool, at most
/// `width` at a time, so that `close` only has to send the tail and complete the upload. A write
/// into a part already sent (or being sent) makes it dirty, and it is sent again at `finish`.
final class UploadStream: @unchecked Sendable {
    let key: String
    let uploadId: String
    let partSize: Int64
    let fd: Int32
    let path: String
    let store: any ObjectStore
    let pool: WorkerPool
    let width: Int

    // SAFETY: every field below is read and written with `cond` locked.
    private let cond = NSCondition()
    /// Write generation of each part; a finished upload counts only if it saw the current one.
    private var versions: [Int: Int] = [:]
    private var done: [Int: (etag: String, version: Int)] = [:]
    private var sending: Set<Int> = []
    private var fileSize: Int64 = 0
    private var aborted = false
    /// Parts below it have been queued once; dirty ones among them are sent again by `finish`.
    private var cursor = 0

    init(key: String, uploadId: String, partSize: Int64, fd: Int32, path: String, store: any ObjectStore, pool: WorkerPool, width: Int) {
        self.key = key
        self.uploadId = uploadId
        self.partSize = partSize
        self.fd = fd
        self.path = path
        self.store = store
        self.pool = pool
        self.width = width
    }

    /// The most parts an upload may have; a file that would need more is stored another way.
    static let maxParts = 10_000

    /// Bytes `range` were written and the file is now `size` bytes long.
    func wrote(_ range: Range<Int64>, size: Int64) {
        cond.lock()
        defer { cond.unlock() }
        if !range.isEmpty {
            for i in Int(range.lowerBound / partSize)...Int((range.upperBound - 1) / partSize) { versions[i, default: 0] += 1 }
        }
        fileSize = size
        scheduleSealed()
    }

    /// Sends the parts not sent yet (or dirty), waits for all, and returns them for completion.
    func finish(size: Int64) throws -> [(Int, String)] {
        cond.lock()
        fileSize = size
        while !sending.isEmpty { cond.wait() }
        let count = Int((size + partSize - 1) / partSize)
        let missing = (0..<count).filter { i in done[i].map { $0.version != versions[i, default: 0] } ?? true }
        let snapshot = versions
        cond.unlock()
        let results = Mutex([Int: String]())
        try parallelFor(missing.count, width: width) { [self] j in
            let i = missing[j]
            let etag = try sendPart(i, size: size)
            results.withLock { $0[i] = etag }
        }
        cond.lock()
        defer { cond.unlock() }
        let fresh = results.withLock { $0 }
        for (i, etag) in fresh { done[i] = (etag, snapshot[i, default: 0]) }
        return try (0..<count).map { i in
            guard let d = done[i] else { throw VFSError(.io, "upload of \(key): part \(i + 1) missing") }
            return (i + 1, d.etag)
        }
    }

    /// Stops sending, waits for parts in flight and drops the upload.
    func abort() {
        cond.lock()
        aborted = true
        while !sending.isEmpty { cond.wait() }
        cond.unlock()
        store.abortUpload(key, uploadId: uploadId)
    }

    /// Queues parts that the file has grown a whole part beyond. Called with `cond` locked.
    private func scheduleSealed() {
        guard !aborted else { return }
        let sealed = Int(max(0, fileSize / partSize - 1))
        while cursor < sealed && sending.count < width {
            let i = cursor, current = versions[i, default: 0]
            sending.insert(i)
            pool.submit { [self] in self.background(i, version: current) }
            cursor += 1
        }
    }

    private func background(_ i: Int, version: Int) {
        let etag = try? sendPart(i, size: nil)
        cond.lock()
        sending.remove(i)
        if let etag, versions[i, default: 0] == version { done[i] = (etag, version) }
        scheduleSealed()
        cond.broadcast()
        cond.unlock()
    }

    /// Reads part `i` (up to `size`, or a whole part) from the staging file and uploads it.
    private func sendPart(_ i: Int, size: Int64?) throws -> String {
        let lo = Int64(i) * partSize
        let hi = size.map { min($0, lo + partSize) } ?? lo + partSize
        let data = try StagingIO.readExactly(fd, offset: lo, count: Int(hi - lo), path: path)
        return try store.uploadPart(key, uploadId: uploadId, number: i + 1, data: data)
    }
}
