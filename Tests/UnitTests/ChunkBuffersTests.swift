import Foundation
@testable import Mount
import Testing
import TestSupport

/// Read-ahead chunk memory: reused from one GET to the next, handed back when the chunk's last
/// slice goes, and not kept once the read-ahead ends; the bytes read through it are the object's.
@Suite struct ChunkBuffersTests {
    @Test func memoryComesBackWhenTheLastSliceGoesAndIsReused() {
        let pool = ChunkBuffers(size: 4096, keep: 2)
        let p = pool.take()
        var data: Data? = Data(bytesNoCopy: p, count: 100, deallocator: .custom { q, _ in pool.giveBack(q) })
        var slice: Data? = data![10..<20]
        data = nil
        #expect(slice?.count == 10)
        slice = nil  // the last reference: the memory goes back
        #expect(pool.take() == p)
    }

    @Test func nothingIsKeptAfterClose() {
        let pool = ChunkBuffers(size: 4096, keep: 2)
        let p = pool.take()
        pool.close()
        pool.giveBack(p)  // deallocated, not kept
        #expect(pool.idleCount == 0)
    }

    @Test func aSequentialReadThroughReusedChunksIsTheObject() throws {
        let store = InMemoryObjectStore()
        var rng = SplitMix64(state: 3)
        let body = Data((0..<(5 << 20) + 123).map { _ in UInt8.random(in: 0...255, using: &rng) })
        try store.put("big", data: body, metadata: [:])
        let pool = WorkerPool(threads: 4, name: "t-ra")
        let ra = ReadAhead(key: "big", etag: nil, size: Int64(body.count),
                           tuning: .init(chunkSize: 256 << 10, initialWindow: 2, maxWindow: 4), reads: CachedReads(store: store, cache: nil), pool: pool)
        var got = Data()
        var offset: Int64 = 0
        while offset < Int64(body.count) {
            let r = try #require(try ra.read(offset: offset, count: 128 << 10))
            got.append(r.data)
            offset += Int64(r.data.count)
        }
        ra.cancel()
        #expect(got == body)
    }
}
