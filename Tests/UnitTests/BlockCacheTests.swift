import CGaragetytus
import Foundation
import Mount
import Synchronization
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The block cache on a real directory: what it keeps it gives back, for that version only, and a
/// damaged file is a miss and a report, never wrong bytes.
@Suite struct BlockCacheTests {
    let dir = NSTemporaryDirectory() + "gt-blocks-\(UUID().uuidString)"

    func cache(capacity: Int64 = 64 << 20, blockSize: Int = 64 << 10, reports: Reports? = nil) -> BlockCache {
        var o = BlockCache.Options(directory: dir, capacity: capacity)
        o.blockSize = blockSize
        return BlockCache(o, onError: { m in reports?.lines.withLock { $0.append(m) } })
    }

    func bytes(_ n: Int, seed: UInt8) -> Data { Data((0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31) ^ seed }) }

    func blockFiles() -> [String] {
        let subs = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return subs.filter { $0.count == 2 }.flatMap { s in
            ((try? FileManager.default.contentsOfDirectory(atPath: "\(dir)/\(s)")) ?? []).map { "\(dir)/\(s)/\($0)" }
        }
    }

    @Test func theChecksumIsCRC32C() {
        // The check value of the Castagnoli CRC, and one longer than a step, unaligned.
        #expect(gt_crc32c(Array("123456789".utf8), 9) == 0xE306_9283)
        let bytes = Array(repeating: UInt8(0), count: 32)
        #expect(gt_crc32c(bytes, 32) == 0x8A91_36AA)
        let unaligned = Array("x123456789".utf8)
        unaligned.withUnsafeBytes { #expect(gt_crc32c($0.baseAddress! + 1, 9) == 0xE306_9283) }
    }

    @Test func aStoredBlockIsReadBackForItsVersionOnlyAndAcrossInstances() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let block = bytes(64 << 10, seed: 7)
        do {
            let c = cache()
            c.store(key: "a/b", etag: "\"e1\"", index: 3, data: block)
            #expect(c.read(key: "a/b", etag: "\"e1\"", index: 3, range: 100..<4196) == block.subdata(in: 100..<4196))
            #expect(c.read(key: "a/b", etag: "\"e2\"", index: 3, range: 0..<10) == nil)  // another version
            #expect(c.read(key: "a/b", etag: "\"e1\"", index: 4, range: 0..<10) == nil)  // another block
            #expect(c.read(key: "a/c", etag: "\"e1\"", index: 3, range: 0..<10) == nil)  // another key
        }
        // A new instance (a remount) finds the block and checks it before serving it.
        let again = cache()
        #expect(again.read(key: "a/b", etag: "\"e1\"", index: 3, range: 0..<block.count) == block)
        #expect(again.stats.hits == 1)
    }

    @Test func aDamagedOrTruncatedFileIsAMissAndAReportNeverWrongBytes() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let reports = Reports()
        let block = bytes(64 << 10, seed: 9)
        cache().store(key: "k", etag: "e", index: 0, data: block)
        cache().store(key: "t", etag: "e", index: 0, data: block)
        let files = blockFiles()
        #expect(files.count == 2)
        // One byte flipped in the middle of one file, the other cut short.
        let fresh = cache(reports: reports)
        for f in files {
            var d = try Data(contentsOf: URL(fileURLWithPath: f))
            if f == files[0] { d[d.count / 2] ^= 0xff } else { d = d.prefix(d.count - 100) }
            try d.write(to: URL(fileURLWithPath: f))
        }
        #expect(fresh.read(key: "k", etag: "e", index: 0, range: 0..<block.count) == nil)
        #expect(fresh.read(key: "t", etag: "e", index: 0, range: 0..<block.count) == nil)
        #expect(fresh.stats.damaged == 2 && fresh.stats.hits == 0)
        #expect(blockFiles().isEmpty, "damaged files are removed")
        #expect(reports.lines.withLock { $0.filter { $0.contains("checksum") || $0.contains("too short") }.count } == 2, "\(reports.lines.withLock { $0 })")
        // Stored again, it serves again.
        fresh.store(key: "k", etag: "e", index: 0, data: block)
        #expect(fresh.read(key: "k", etag: "e", index: 0, range: 0..<block.count) == block)
    }

    @Test func aFileRewrittenAfterItWasVerifiedIsCheckedAgain() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = cache()
        let block = bytes(64 << 10, seed: 1)
        c.store(key: "k", etag: "e", index: 0, data: block)
        #expect(c.read(key: "k", etag: "e", index: 0, range: 0..<16) == block.prefix(16))
        let f = try #require(blockFiles().first)
        var d = try Data(contentsOf: URL(fileURLWithPath: f))
        d[48] ^= 0x01
        try d.write(to: URL(fileURLWithPath: f))  // a new file (and mtime): no longer the one verified
        #expect(c.read(key: "k", etag: "e", index: 0, range: 0..<16) == nil)
    }

    @Test func theCapacityEvictsTheLeastRecentlyUsedBlocks() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bs = 64 << 10
        let c = cache(capacity: Int64(10 * (bs + 48)), blockSize: bs)
        for i in 0..<10 { c.store(key: "k", etag: "e", index: Int64(i), data: bytes(bs, seed: UInt8(i))) }
        #expect(c.stats.blocks == 10)
        usleep(2000)
        #expect(c.read(key: "k", etag: "e", index: 0, range: 0..<1) != nil)  // block 0 is now the most recent
        c.store(key: "k", etag: "e", index: 10, data: bytes(bs, seed: 10))
        let s = c.stats
        #expect(s.bytes <= Int64(10 * (bs + 48)) && s.evicted >= 1, "\(s)")
        #expect(c.read(key: "k", etag: "e", index: 0, range: 0..<1) != nil, "the block just used stays")
        #expect(c.read(key: "k", etag: "e", index: 1, range: 0..<1) == nil, "the oldest went first")
        #expect(c.read(key: "k", etag: "e", index: 10, range: 0..<1) != nil)
        #expect(blockFiles().count == c.stats.blocks)
    }

    /// A whole-object fill stores four windows at once: blocks being written count against the
    /// capacity before they are kept, so concurrent stores never leave more than it on disk
    /// (BlockCacheMountTests once saw 16 blocks and their headers in a 16 MiB cache).
    @Test func concurrentStoresNeverOvershootTheCapacity() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bs = 256 << 10
        let capacity = Int64(4 * (bs + 48))
        let c = cache(capacity: capacity, blockSize: bs)
        let block = bytes(bs, seed: 7)
        for round in 0..<20 {
            DispatchQueue.concurrentPerform(iterations: 8) { i in
                c.store(key: "k", etag: "e", index: Int64(round * 8 + i), data: block)
            }
            let s = c.stats
            #expect(s.bytes <= capacity, "round \(round): \(s.bytes) bytes kept in a cache of \(capacity)")
            let onDisk = blockFiles().reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int) ?? 0) }
            #expect(Int64(onDisk) <= capacity, "round \(round): \(onDisk) bytes of block files")
        }
    }

    @Test func cachedReadsFetchAlignedBlocksOnceAndServeNeighboursLocally() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = InMemoryObjectStore()
        let body = bytes((1 << 20) + 5000, seed: 3)
        let meta = try store.put("f", data: body, metadata: [:])
        let etag = try #require(meta.etag)
        let counting = CountingStore(inner: store)
        let bc = cache(blockSize: 64 << 10)
        let reads = CachedReads(store: counting, cache: bc, fetchSize: 256 << 10)
        let size = Int64(body.count)
        let first = try reads.read(key: "f", etag: etag, size: size, range: 70_000..<74_096)
        #expect(first.data == body.subdata(in: 70_000..<74_096) && !first.hit)
        #expect(counting.ranges.withLock { $0 } == [0..<(256 << 10)])  // the aligned window around it
        #expect(bc.stats.misses == 1 && bc.stats.hits == 0, "one read, one miss: \(bc.stats)")
        reads.drain()
        for lo in stride(from: Int64(0), to: 256 << 10, by: 10_000) {
            let r = try reads.read(key: "f", etag: etag, size: size, range: lo..<min(lo + 4096, 256 << 10))
            #expect(r.hit && r.data == body.subdata(in: Int(lo)..<Int(min(lo + 4096, 256 << 10))))
        }
        #expect(counting.ranges.withLock { $0.count } == 1)
        // The object's short last block, and a read across blocks.
        let tail = try reads.read(key: "f", etag: etag, size: size, range: size - 10..<size)
        #expect(tail.data == body.suffix(10))
        reads.drain()
        #expect(try reads.read(key: "f", etag: etag, size: size, range: size - 70_000..<size).data == body.suffix(70_000))
        // Blocks of the old version not cached yet are not fetched for it any more (the store says stale).
        let other = try store.put("f", data: bytes(body.count, seed: 99), metadata: [:])
        #expect(throws: VFSError.self) { try reads.read(key: "f", etag: etag, size: size, range: (300 << 10)..<(301 << 10)) }
        let now = try reads.read(key: "f", etag: other.etag, size: size, range: 100..<200)
        #expect(now.data == bytes(body.count, seed: 99).subdata(in: 100..<200) && !now.hit)
        reads.close()
    }
}

final class Reports: Sendable {
    let lines = Mutex<[String]>([])
}

/// Records the ranges read from `inner`.
final class CountingStore: ObjectStore, @unchecked Sendable {
    let inner: any ObjectStore
    let ranges = Mutex<[Range<Int64>]>([])
    init(inner: any ObjectStore) { self.inner = inner }
    func head(_ key: String) throws -> ObjectMeta { try inner.head(key) }
    func read(_ key: String, range: Range<Int64>, etag: String?) throws -> Data {
        ranges.withLock { $0.append(range) }
        return try inner.read(key, range: range, etag: etag)
    }
    func read(_ key: String, range: Range<Int64>, etag: String?, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        ranges.withLock { $0.append(range) }
        return try inner.read(key, range: range, etag: etag, into: buffer)
    }
    func put(_ key: String, data: Data, metadata: [String: String]) throws -> ObjectMeta { try inner.put(key, data: data, metadata: metadata) }
    func copy(from source: String, to destination: String, metadata: [String: String]?, retype: Bool) throws {
        try inner.copy(from: source, to: destination, metadata: metadata, retype: retype)
    }
    func delete(_ key: String) throws { try inner.delete(key) }
    func rename(from source: String, to destination: String) throws -> Bool { try inner.rename(from: source, to: destination) }
    func list(prefix: String) throws -> StoreListing { try inner.list(prefix: prefix) }
    func listFirst(prefix: String, limit: Int) throws -> (listing: StoreListing, complete: Bool) { try inner.listFirst(prefix: prefix, limit: limit) }
    func putFile(_ key: String, path: String, size: Int64, local: ByteRanges, base: BaseObject, metadata: [String: String]) throws -> ObjectMeta {
        try inner.putFile(key, path: path, size: size, local: local, base: base, metadata: metadata)
    }
    func startUpload(_ key: String, metadata: [String: String]) throws -> String { try inner.startUpload(key, metadata: metadata) }
    func uploadPart(_ key: String, uploadId: String, number: Int, data: Data) throws -> String { try inner.uploadPart(key, uploadId: uploadId, number: number, data: data) }
    func completeUpload(_ key: String, uploadId: String, parts: [(Int, String)]) throws -> ObjectMeta { try inner.completeUpload(key, uploadId: uploadId, parts: parts) }
    func abortUpload(_ key: String, uploadId: String) { inner.abortUpload(key, uploadId: uploadId) }
}
