import Foundation
import Mount
import Testing
import TestSupport

/// A big file opened for writing is not downloaded first: only the blocks that are read, and
/// the parts around what is written, come from the object.
@Suite struct VFSPartialStagingTests {
    let size = 40 << 20

    func fixture() throws -> (InMemoryObjectStore, FaultInjectingStore, VFS, Data) {
        let base = InMemoryObjectStore()
        let body = Data((0..<size).map { (i: Int) -> UInt8 in UInt8(truncatingIfNeeded: (i &* 2654435761) >> 9) })
        try base.put("big", data: body, metadata: ["mode": String(0o100640)])
        let counted = FaultInjectingStore(base)
        return (base, counted, VFS(store: counted, options: VFSOptions(defaults: AttributeDefaults(uid: 0, gid: 0))), body)
    }

    func object(_ store: InMemoryObjectStore) throws -> Data { try store.read("big", range: 0..<Int64.max, etag: nil) }

    @Test func overwriteInTheMiddleFetchesNothingBeforeTheUploadAndKeepsTheRest() throws {
        let (base, counted, v, body) = try fixture()
        let ino = try v.lookup(parent: VFS.rootIno, name: "big").attr.ino
        let fh = try v.open(ino, write: true)
        #expect(counted.reads.isEmpty)  // opening for writing downloaded nothing
        _ = try v.write(fh, offset: 100 * 4096, data: Data(repeating: 0xAB, count: 4096))
        #expect(counted.reads.isEmpty)
        // Reading around the write sees old and new bytes together, fetching one block.
        let around = try v.read(fh, offset: 100 * 4096 - 10, size: 4116)
        #expect(around.prefix(10) == body.subdata(in: 100 * 4096 - 10..<100 * 4096))
        #expect(around.dropFirst(10).prefix(4096).allSatisfy { $0 == 0xAB })
        #expect(around.suffix(10) == body.subdata(in: 101 * 4096..<101 * 4096 + 10))
        try v.flush(fh)
        v.release(fh)
        var expected = body
        expected.replaceSubrange(100 * 4096..<101 * 4096, with: Data(repeating: 0xAB, count: 4096))
        #expect(try object(base) == expected)
        #expect(try base.head("big").metadata["mode"] == String(0o100640))
    }

    @Test func appendGrowAndShrinkOfABigFile() throws {
        let (base, _, v, body) = try fixture()
        let ino = try v.lookup(parent: VFS.rootIno, name: "big").attr.ino
        var fh = try v.open(ino, write: true)
        _ = try v.write(fh, offset: Int64(size), data: Data("tail".utf8))  // append
        try v.flush(fh)
        v.release(fh)
        #expect(try object(base) == body + Data("tail".utf8))

        try v.truncate(ino, to: Int64(size) + 8192)  // grow: zeros after the old end
        #expect(try object(base) == body + Data("tail".utf8) + Data(count: 8188))
        try v.truncate(ino, to: 10 << 20)  // shrink
        #expect(try object(base) == body.prefix(10 << 20))
        fh = try v.open(ino, write: true)
        try v.truncate(ino, to: 12 << 20)  // shrink-then-grow keeps zeros, not old bytes
        try v.flush(fh)
        v.release(fh)
        #expect(try object(base) == body.prefix(10 << 20) + Data(count: 2 << 20))
    }

    @Test func aChangedObjectUnderAPartlyStagedFileIsStaleNotMixed() throws {
        let (base, _, v, _) = try fixture()
        let ino = try v.lookup(parent: VFS.rootIno, name: "big").attr.ino
        let fh = try v.open(ino, write: true)
        _ = try v.write(fh, offset: 0, data: Data("mine".utf8))
        try base.put("big", data: Data(repeating: 7, count: size), metadata: [:])  // another client
        // Reading a block not yet staged finds the object changed: ESTALE; the upload: EIO.
        let read = #expect(throws: VFSError.self) { try v.read(fh, offset: 20 << 20, size: 4096) }
        #expect(read?.errno == ESTALE)
        let upload = #expect(throws: VFSError.self) { try v.flush(fh) }
        #expect(upload?.errno == EIO)
        v.release(fh)
        #expect(try object(base) == Data(repeating: 7, count: size))  // the other client's bytes stand
    }

    /// `close` returns before the kernel sends RELEASE: a rename right after a close that failed
    /// because another client replaced the object moves that client's version, never ESTALE.
    @Test func aFileWhoseChangesConflictedIsRenamedWithTheOtherClientsBytes() throws {
        let (base, _, v, _) = try fixture()
        let ino = try v.lookup(parent: VFS.rootIno, name: "big").attr.ino
        let fh = try v.open(ino, write: true)
        let other = try v.open(ino, write: false)
        _ = try v.write(fh, offset: 0, data: Data("mine".utf8))
        let theirs = Data(repeating: 7, count: size)
        try base.put("big", data: theirs, metadata: [:])  // another client
        let upload = #expect(throws: VFSError.self) { try v.flush(fh) }
        #expect(upload?.errno == EIO)
        try v.rename(parent: VFS.rootIno, name: "big", newParent: VFS.rootIno, newName: "moved")  // before release
        #expect(try base.read("moved", range: 0..<Int64.max, etag: nil) == theirs)
        #expect(!base.keys.contains("big"))
        // The lost changes are never stored later, and every close of the file says so.
        let again = #expect(throws: VFSError.self) { try v.flush(other) }
        #expect(again?.errno == EIO)
        v.release(fh)
        v.release(other)
        #expect(try base.read("moved", range: 0..<Int64.max, etag: nil) == theirs)

        // Renamed before any close: the same (the conflict is found by the rename itself).
        let fh2 = try v.open(try v.lookup(parent: VFS.rootIno, name: "moved").attr.ino, write: true)
        _ = try v.write(fh2, offset: 0, data: Data("mine".utf8))
        try base.put("moved", data: Data(repeating: 9, count: size), metadata: [:])
        try v.rename(parent: VFS.rootIno, name: "moved", newParent: VFS.rootIno, newName: "again")
        #expect(try base.read("again", range: 0..<Int64.max, etag: nil) == Data(repeating: 9, count: size))
        #expect(throws: VFSError.self) { try v.flush(fh2) }
        v.release(fh2)
        #expect(base.keys == ["again"])

        // The same moment before an unlink: the name goes, with the other client's object.
        let fh3 = try v.open(try v.lookup(parent: VFS.rootIno, name: "again").attr.ino, write: true)
        _ = try v.write(fh3, offset: 0, data: Data("mine".utf8))
        try base.put("again", data: Data(repeating: 5, count: size), metadata: [:])
        #expect(throws: VFSError.self) { try v.flush(fh3) }
        try v.unlink(parent: VFS.rootIno, name: "again")
        #expect(base.keys.isEmpty)
        try v.flush(fh3)  // a removed file stores nothing when closed
        v.release(fh3)
        #expect(base.keys.isEmpty)
    }

    @Test func unlinkAndRenameOfAnOpenBigFileKeepItsBytes() throws {
        let (base, _, v, body) = try fixture()
        let ino = try v.lookup(parent: VFS.rootIno, name: "big").attr.ino
        let fh = try v.open(ino, write: true)
        _ = try v.write(fh, offset: 5, data: Data("x".utf8))
        try v.rename(parent: VFS.rootIno, name: "big", newParent: VFS.rootIno, newName: "moved")
        var expected = body
        expected[5] = UInt8(ascii: "x")
        #expect(try base.read("moved", range: 0..<Int64.max, etag: nil) == expected)
        try v.unlink(parent: VFS.rootIno, name: "moved")
        #expect(try v.read(fh, offset: Int64(size) - 4096, size: 4096) == expected.suffix(4096))
        v.release(fh)
        #expect(base.keys.isEmpty)
    }
}
