import Foundation
import Mount
import Synchronization
import Testing
import TestSupport

final class ManualClock: Mount.Clock {
    let t = Mutex(1_000_000.0)
    func now() -> Double { t.withLock { $0 } }
    func advance(_ s: Double) { t.withLock { $0 += s } }
}

@Suite struct VFSReadTests {
    let defaults = AttributeDefaults(uid: 1000, gid: 1000)

    func fixture(prefix: String = "") throws -> (InMemoryObjectStore, VFS, ManualClock) {
        let store = InMemoryObjectStore()
        try store.put(prefix + "hello.txt", data: Data("hello world".utf8), metadata: ["mode": "33152", "uid": "7", "mtime": "1700000000"])
        try store.put(prefix + "docs/a.md", data: Data("# a".utf8), metadata: [:])
        try store.put(prefix + "docs/deep/b.md", data: Data("b".utf8), metadata: [:])
        try store.put(prefix + "link", data: Data("hello.txt".utf8), metadata: ["mode": "41471"])
        try store.put(prefix + "outside-marker/", data: Data(), metadata: [:])
        let clock = ManualClock()
        return (store, VFS(store: store, options: VFSOptions(prefix: prefix, metadataTTL: 1, defaults: defaults), clock: clock), clock)
    }

    @Test(arguments: ["", "mnt/sub"])
    func lookupGetattrReaddirAndRead(prefix: String) throws {
        let (_, vfs, _) = try fixture(prefix: prefix.isEmpty ? "" : prefix + "/")
        let file = try vfs.lookup(parent: VFS.rootIno, name: "hello.txt")
        #expect(file.attr.size == 11)
        #expect(file.attr.mode == 0o100600)
        #expect(file.attr.uid == 7 && file.attr.gid == 1000)
        #expect(file.attr.mtime == 1_700_000_000)
        let docs = try vfs.lookup(parent: VFS.rootIno, name: "docs")
        #expect(docs.attr.mode & 0o170000 == 0o040000)
        #expect(try vfs.readdir(VFS.rootIno).map(\.name) == [".", "..", "hello.txt", "link", "docs", "outside-marker"])
        #expect(try vfs.readdir(docs.attr.ino).map(\.name) == [".", "..", "a.md", "deep"])
        let fh = try vfs.open(file.attr.ino, write: false)
        #expect(try vfs.read(fh, offset: 6, size: 100) == Data("world".utf8))
        #expect(try vfs.read(fh, offset: 11, size: 10) == Data())
        vfs.release(fh)
        let link = try vfs.lookup(parent: VFS.rootIno, name: "link")
        #expect(link.attr.mode & 0o170000 == 0o120000)
        #expect(try vfs.readlink(link.attr.ino) == "hello.txt")
        #expect(throws: VFSError.self) { try vfs.lookup(parent: VFS.rootIno, name: "missing") }
        do { _ = try vfs.lookup(parent: VFS.rootIno, name: "missing") } catch let e as VFSError { #expect(e.errno == ENOENT) }
    }

    @Test func externalChangesShowAfterTheTTLAndOpenFilesGoStale() throws {
        let (store, vfs, clock) = try fixture()
        let ino = try vfs.lookup(parent: VFS.rootIno, name: "hello.txt").attr.ino
        let fh = try vfs.open(ino, write: false)
        try store.put("hello.txt", data: Data("changed by someone else".utf8), metadata: [:])
        // Within the TTL the cached size stands; after it too while the file is open for reading
        // (close-to-open: the kernel would clamp the reader's bytes to a newer size) ...
        #expect(try vfs.getattr(ino).size == 11)
        clock.advance(1.5)
        #expect(try vfs.getattr(ino).size == 11)
        // ... and the handle opened before the change never mixes old and new bytes.
        do {
            _ = try vfs.read(fh, offset: 0, size: 5)
            Issue.record("read of a changed object succeeded")
        } catch let e as VFSError {
            #expect(e.errno == ESTALE)
        }
        // Closed, the new object shows.
        vfs.release(fh)
        #expect(try vfs.getattr(ino).size == 23)
        try store.delete("hello.txt")
        clock.advance(1.5)
        do { _ = try vfs.getattr(ino); Issue.record("deleted object still has attributes") } catch let e as VFSError { #expect(e.errno == ENOENT) }
    }

    @Test func forgottenInodesAreDropped() throws {
        let (_, vfs, _) = try fixture()
        let before = vfs.inodeCount
        let ino = try vfs.lookup(parent: VFS.rootIno, name: "hello.txt").attr.ino
        #expect(try vfs.lookup(parent: VFS.rootIno, name: "hello.txt").attr.ino == ino)  // same inode, two references
        #expect(vfs.inodeCount == before + 1)
        vfs.forget(ino, count: 1)
        #expect(vfs.inodeCount == before + 1)
        vfs.forget(ino, count: 1)
        #expect(vfs.inodeCount == before)
    }

    @Test func writesAreRefusedClearly() throws {
        let store = InMemoryObjectStore()
        try store.put("f", data: Data("x".utf8), metadata: [:])
        let ro = VFS(store: store, options: VFSOptions(defaults: defaults, readOnly: true))
        let ino = try ro.lookup(parent: VFS.rootIno, name: "f").attr.ino
        // Every kind of change is refused with EROFS, and the store is left as it was.
        let r = VFS.rootIno
        let changes: [(String, () throws -> Void)] = [
            ("open for writing", { _ = try ro.open(ino, write: true) }),
            ("create", { _ = try ro.create(parent: r, name: "new", mode: 0o644, uid: 0, gid: 0) }),
            ("mkdir", { _ = try ro.mkdir(parent: r, name: "d", mode: 0o755, uid: 0, gid: 0) }),
            ("symlink", { _ = try ro.symlink(parent: r, name: "l", target: "f", uid: 0, gid: 0) }),
            ("unlink", { try ro.unlink(parent: r, name: "f") }),
            ("rename", { try ro.rename(parent: r, name: "f", newParent: r, newName: "g") }),
            ("truncate", { _ = try ro.setattr(ino, AttrChange(size: 0)) }),
            ("chmod", { _ = try ro.setattr(ino, AttrChange(mode: 0o600)) }),
        ]
        for (what, change) in changes {
            let e = #expect(throws: VFSError.self, "\(what)") { try change() }
            #expect(e?.errno == EROFS, "\(what): \(e.map { "\($0)" } ?? "no error")")
        }
        #expect(store.keys == ["f"])
        #expect(try store.read("f", range: 0..<Int64.max, etag: nil) == Data("x".utf8))
        #expect(try store.head("f").metadata.isEmpty)
    }
}
