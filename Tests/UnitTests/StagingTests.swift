import Foundation
@testable import Mount
import Testing
import TestSupport

@Suite struct StagingTests {
    func tempDir() throws -> String {
        let dir = NSTemporaryDirectory() + "gt-staging-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func stagingFiles(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix(StagingIO.prefix) }
    }

    @Test func aSmallFileIsHeldInMemoryAndABigOneMovesToDiskWithItsBytes() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let memory = StagingMemory()
        let s = Staging(path: StagingIO.newPath(in: dir, ino: 2), memory: memory)
        try s.write(Data("hello".utf8), offset: 0)
        try s.write(Data("XY".utf8), offset: 8)  // a gap of three zeros
        #expect(try s.read(offset: 0, count: 100) == Data("hello".utf8) + Data([0, 0, 0]) + Data("XY".utf8))
        #expect(s.inMemory?.count == 10)
        #expect(stagingFiles(dir).isEmpty)
        #expect(memory.inUse == 10)

        let big = Data((0..<Int(StagingMemory.perFile)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try s.write(big, offset: 4)
        #expect(s.inMemory == nil)
        #expect(stagingFiles(dir).count == 1)
        #expect(memory.inUse == 0)
        #expect(try s.read(offset: 0, count: 4) == Data("hell".utf8))
        #expect(try s.read(offset: 4, count: big.count) == big)
        try s.truncate(2)
        #expect(try s.read(offset: 0, count: 100) == Data("he".utf8))
        s.remove()
        #expect(stagingFiles(dir).isEmpty)
    }

    @Test func truncateGrowsWithZerosAndShrinksInMemory() throws {
        let memory = StagingMemory()
        let s = Staging(path: "/nonexistent/never-created", memory: memory)
        try s.write(Data("abcdef".utf8), offset: 0)
        try s.truncate(3)
        #expect(s.inMemory == Data("abc".utf8))
        try s.truncate(5)
        #expect(s.inMemory == Data("abc".utf8) + Data([0, 0]))
        s.remove()
        #expect(memory.inUse == 0)
    }

    @Test func whenTheMemoryBudgetIsSpentNewBytesGoToDisk() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let memory = StagingMemory(limit: 8 << 10)
        let a = Staging(path: StagingIO.newPath(in: dir, ino: 2), memory: memory)
        let b = Staging(path: StagingIO.newPath(in: dir, ino: 3), memory: memory)
        try a.write(Data(count: 6 << 10), offset: 0)
        try b.write(Data(repeating: 7, count: 4 << 10), offset: 0)  // would pass the budget
        #expect(a.inMemory != nil)
        #expect(b.inMemory == nil)
        #expect(try b.read(offset: 0, count: 8 << 10) == Data(repeating: 7, count: 4 << 10))
        #expect(stagingFiles(dir).count == 1)
        a.remove()
        b.remove()
        #expect(memory.inUse == 0)
        #expect(stagingFiles(dir).isEmpty)
    }

    @Test func aSmallFileWrittenThroughTheVFSNeverTouchesTheCacheDirAndABigOneIsRemovedAfterClose() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = InMemoryObjectStore()
        let v = VFS(store: store, options: VFSOptions(defaults: AttributeDefaults(uid: 0, gid: 0), cacheDir: dir))
        let (_, fh) = try v.create(parent: VFS.rootIno, name: "small", mode: 0o644, uid: 0, gid: 0)
        _ = try v.write(fh, offset: 0, data: Data("four".utf8))
        #expect(stagingFiles(dir).isEmpty)
        try v.flush(fh)
        v.release(fh)
        #expect(try store.read("small", range: 0..<100, etag: nil) == Data("four".utf8))
        #expect(v.stagingMemory.inUse == 0)

        let body = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 >> 3) })
        let (_, big) = try v.create(parent: VFS.rootIno, name: "big", mode: 0o644, uid: 0, gid: 0)
        for off in stride(from: 0, to: body.count, by: 128 << 10) {
            _ = try v.write(big, offset: Int64(off), data: body.subdata(in: off..<off + (128 << 10)))
        }
        #expect(stagingFiles(dir).count == 1)
        try v.flush(big)
        v.release(big)
        #expect(try store.read("big", range: 0..<Int64(body.count), etag: nil) == body)
        #expect(stagingFiles(dir).isEmpty)
    }
}
