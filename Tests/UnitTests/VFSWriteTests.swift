import Daemon
import Foundation
@testable import Mount
import Testing
import TestSupport

@Suite struct VFSWriteTests {
    let defaults = AttributeDefaults(uid: 0, gid: 0)

    func vfs(_ store: any ObjectStore) -> VFS { VFS(store: store, options: VFSOptions(defaults: defaults)) }

    func text(_ store: InMemoryObjectStore, _ key: String) throws -> String {
        String(decoding: try store.read(key, range: 0..<1 << 30, etag: nil), as: UTF8.self)
    }

    @Test func createWriteCloseStoresBytesAndAttributes() throws {
        let store = InMemoryObjectStore()
        let v = vfs(store)
        let (e, fh) = try v.create(parent: VFS.rootIno, name: "new.txt", mode: 0o640, uid: 5, gid: 6)
        #expect(try v.write(fh, offset: 0, data: Data("hello".utf8)) == 5)
        #expect(try v.write(fh, offset: 5, data: Data(" world".utf8)) == 6)
        #expect(try v.read(fh, offset: 0, size: 100) == Data("hello world".utf8))  // read-after-write before upload
        #expect(store.keys.isEmpty)
        try v.flush(fh)
        v.release(fh)
        #expect(try text(store, "new.txt") == "hello world")
        let meta = try store.head("new.txt").metadata
        #expect(meta["mode"] == String(0o100640) && meta["uid"] == "5" && meta["gid"] == "6")
        #expect(try v.getattr(e.attr.ino).size == 11)
    }

    @Test func overwriteInTheMiddleAppendAndTruncateKeepTheRest() throws {
        let store = InMemoryObjectStore()
        try store.put("f", data: Data("0123456789".utf8), metadata: [:])
        let v = vfs(store)
        let ino = try v.lookup(parent: VFS.rootIno, name: "f").attr.ino
        var fh = try v.open(ino, write: true)
        _ = try v.write(fh, offset: 3, data: Data("abc".utf8))
        _ = try v.write(fh, offset: 10, data: Data("XY".utf8))
        try v.flush(fh)
        v.release(fh)
        #expect(try text(store, "f") == "012abc6789XY")
        try v.truncate(ino, to: 4)
        #expect(try text(store, "f") == "012a")
        try v.truncate(ino, to: 6)
        #expect(try store.read("f", range: 0..<100, etag: nil) == Data("012a".utf8) + Data([0, 0]))
        fh = try v.open(ino, write: true, truncate: true)
        try v.flush(fh)
        v.release(fh)
        #expect(try store.head("f").size == 0)
    }

    @Test func failedUploadIsReportedAndRetriedByTheNextFlush() throws {
        let store = FaultInjectingStore(InMemoryObjectStore())
        let v = vfs(store)
        let (_, fh) = try v.create(parent: VFS.rootIno, name: "x", mode: 0o644, uid: 0, gid: 0)
        _ = try v.write(fh, offset: 0, data: Data("data".utf8))
        store.failNext(.put, with: .io)
        do { try v.flush(fh); Issue.record("a failed upload was reported as success") } catch let e as VFSError { #expect(e.errno == EIO) }
        try v.flush(fh)
        v.release(fh)
        #expect(try store.read("x", range: 0..<4, etag: nil) == Data("data".utf8))
    }

    /// A `close` by a process that inherited the descriptor (not the one that opened the file)
    /// uploads nothing while the opener lives; the opener's `close` does, and so does the last
    /// release when nothing else did.
    @Test func onlyTheOpenersCloseUploadsWhileItLives() throws {
        let store = InMemoryObjectStore()
        var options = VFSOptions(defaults: defaults)
        options.processIsAlive = Sentinel.processIsAlive
        let v = VFS(store: store, options: options)
        let me = getpid(), child: Int32 = 1  // a live process that is not this one
        let (_, fh) = try v.create(parent: VFS.rootIno, name: "w", mode: 0o644, uid: 0, gid: 0, owner: me)
        _ = try v.write(fh, offset: 0, data: Data("half".utf8))
        try v.flush(fh, caller: child)
        #expect(store.keys.isEmpty)
        _ = try v.write(fh, offset: 4, data: Data(" and the rest".utf8))
        try v.flush(fh, caller: me)
        #expect(try text(store, "w") == "half and the rest")
        v.release(fh)

        // The opener is gone (or closed first): the child's close is left to the last release.
        let (_, fh2) = try v.create(parent: VFS.rootIno, name: "late", mode: 0o644, uid: 0, gid: 0, owner: me)
        _ = try v.write(fh2, offset: 0, data: Data("by the child".utf8))
        try v.flush(fh2, caller: child)
        #expect(!store.keys.contains("late"))
        v.release(fh2)
        #expect(try text(store, "late") == "by the child")

        // An opener that no longer exists: any close uploads.
        let (_, fh3) = try v.create(parent: VFS.rootIno, name: "orphan", mode: 0o644, uid: 0, gid: 0, owner: Int32.max)
        _ = try v.write(fh3, offset: 0, data: Data("x".utf8))
        try v.flush(fh3, caller: child)
        #expect(try text(store, "orphan") == "x")
        v.release(fh3)
    }

    /// `truncate`/`chmod` by path store at once even while another process holds the file open;
    /// through that process's descriptor (`ftruncate`, `fchmod`) they wait for its `close`.
    @Test func changesByPathAreStoredAtOnceThroughADescriptorAtClose() throws {
        let store = InMemoryObjectStore()
        try store.put("f", data: Data("0123456789".utf8), metadata: [:])
        let v = vfs(store)
        let ino = try v.lookup(parent: VFS.rootIno, name: "f").attr.ino
        let fh = try v.open(ino, write: true)
        // By path, with the file open: stored at once.
        _ = try v.setattr(ino, AttrChange(size: 6))
        #expect(try text(store, "f") == "012345")
        _ = try v.setattr(ino, AttrChange(mode: 0o600))
        #expect(try store.head("f").metadata["mode"] == String(0o100600))
        // Through the descriptor (ftruncate, fchown, futimens): nothing stored until its close.
        func viaFD(_ c: AttrChange) throws {
            var c = c
            c.throughDescriptor = true
            _ = try v.setattr(ino, c)
        }
        try viaFD(AttrChange(size: 3))
        try viaFD(AttrChange(uid: 1234, gid: 4321))
        try viaFD(AttrChange(mtime: 1_000_000))
        #expect(try text(store, "f") == "012345")
        let stored = try store.head("f").metadata
        #expect(stored["uid"] != "1234" && stored["gid"] != "4321" && stored["mtime"] != "1000000")
        try v.flush(fh)
        v.release(fh)
        #expect(try text(store, "f") == "012")
        let closed = try store.head("f").metadata
        #expect(closed["uid"] == "1234" && closed["gid"] == "4321" && closed["mtime"] == "1000000")
        #expect(closed["mode"] == String(0o100600))
    }

    /// A `close` of a descriptor a child process inherited flushes while the writer is still
    /// writing; that upload must not land after (and over) the writer's own at its `close`.
    @Test func anEarlierFlushNeverLandsOverALaterOne() throws {
        let store = FaultInjectingStore(InMemoryObjectStore())
        let v = vfs(store)
        let (_, fh) = try v.create(parent: VFS.rootIno, name: "big", mode: 0o644, uid: 0, gid: 0)
        let first = Data(repeating: 1, count: 3 << 20), rest = Data(repeating: 2, count: 6 << 20)
        _ = try v.write(fh, offset: 0, data: first)
        let held = store.holdNext(.put)
        let early = DispatchGroup()
        DispatchQueue.global().async(group: early) { _ = try? v.flush(fh) }  // the inherited descriptor's close
        #expect(held.waitUntilHeld(timeout: 10))
        _ = try v.write(fh, offset: Int64(first.count), data: rest)
        let last = DispatchGroup()
        nonisolated(unsafe) var lastError: (any Error)?
        DispatchQueue.global().async(group: last) { do { try v.flush(fh) } catch { lastError = error } }  // the writer's close
        // The writer's flush waits for the earlier upload instead of racing it.
        #expect(eventually(timeout: 10) { v.uploadGate.waiters == 1 || store.calls(.put) == 2 })
        held.release()
        #expect(early.wait(timeout: .now() + 10) == .success && last.wait(timeout: .now() + 10) == .success)
        #expect(lastError == nil)
        v.release(fh)
        #expect(try store.read("big", range: 0..<(16 << 20), etag: nil) == first + rest)
    }

    /// git's lock files: create, `close` (a new empty file is stored at the release, which the
    /// kernel sends asynchronously), `unlink`. The release's upload may still be running when the
    /// unlink arrives on another thread; the file must not come back after the unlink.
    @Test func aFileUnlinkedWhileItsLastReleaseStoresItStaysDeleted() throws {
        let memory = InMemoryObjectStore()
        let store = FaultInjectingStore(memory)
        let v = vfs(store)
        let (_, fh) = try v.create(parent: VFS.rootIno, name: "config.lock", mode: 0o644, uid: 0, gid: 0)
        try v.flush(fh)  // close: nothing stored yet
        #expect(store.calls(.put) == 0)
        let held = store.holdNext(.put)
        let released = DispatchGroup()
        DispatchQueue.global().async(group: released) { v.release(fh) }
        #expect(held.waitUntilHeld(timeout: 10))
        let unlinked = DispatchGroup()
        nonisolated(unsafe) var unlinkError: (any Error)?
        DispatchQueue.global().async(group: unlinked) {
            do { try v.unlink(parent: VFS.rootIno, name: "config.lock") } catch { unlinkError = error }
        }
        #expect(eventually(timeout: 10) { v.uploadGate.waiters == 1 || store.calls(.delete) == 1 })
        held.release()
        #expect(released.wait(timeout: .now() + 10) == .success && unlinked.wait(timeout: .now() + 10) == .success)
        #expect(unlinkError == nil)
        #expect(!memory.keys.contains("config.lock"))
        #expect(throws: VFSError.self) { try v.lookup(parent: VFS.rootIno, name: "config.lock") }
    }

    /// `open(O_CREAT)`, `close`, `chown` at once (pjdfstest's create then lchown): the chown can
    /// arrive while the release's upload of the empty file (with the creator as owner) is
    /// running. That upload must not put its older attributes back on the node, or the chown's
    /// own upload stores them and the new owner is lost.
    @Test func aChownDuringTheReleasesUploadKeepsTheNewOwner() throws {
        let (v, memory, ino) = try setattrDuringTheReleasesUpload(of: "owned", AttrChange(uid: 65534, gid: 65534))
        #expect(try v.getattr(ino).uid == 65534)
        #expect(try memory.head("owned").metadata["uid"] == "65534")
    }

    /// pjdfstest's create-then-truncate: the truncate by path arrives while the create's release
    /// uploads the empty file, and its own upload must still find the staging file.
    @Test func aTruncateDuringTheReleasesUploadIsStored() throws {
        let (v, memory, ino) = try setattrDuringTheReleasesUpload(of: "grown", AttrChange(size: 1_234_567))
        #expect(try v.getattr(ino).size == 1_234_567)
        #expect(try memory.head("grown").size == 1_234_567)
    }

    /// Creates `name`, closes it, and makes `change` by path while the release's upload of the
    /// empty file is held in its PUT (and the change waits for it); the change succeeded.
    func setattrDuringTheReleasesUpload(of name: String, _ change: AttrChange) throws -> (VFS, InMemoryObjectStore, UInt64) {
        let memory = InMemoryObjectStore()
        let store = FaultInjectingStore(memory)
        let v = vfs(store)
        let (e, fh) = try v.create(parent: VFS.rootIno, name: name, mode: 0o644, uid: 0, gid: 0)
        try v.flush(fh)
        let held = store.holdNext(.put)
        let released = DispatchGroup()
        DispatchQueue.global().async(group: released) { v.release(fh) }
        #expect(held.waitUntilHeld(timeout: 10))
        let changed = DispatchGroup()
        nonisolated(unsafe) var changeError: (any Error)?
        DispatchQueue.global().async(group: changed) {
            do { _ = try v.setattr(e.attr.ino, change) } catch { changeError = error }
        }
        #expect(eventually(timeout: 10) { v.uploadGate.waiters == 1 })
        held.release()
        #expect(released.wait(timeout: .now() + 10) == .success && changed.wait(timeout: .now() + 10) == .success)
        #expect(changeError == nil)
        return (v, memory, e.attr.ino)
    }

    /// A truncate answers with its new mtime and ctime, also through a descriptor (stored at
    /// `close`): the kernel keeps the attributes a setattr answers (pjdfstest's ftruncate/00).
    @Test func aTruncateAnswersWithItsNewTimes() throws {
        let memory = InMemoryObjectStore()
        try memory.put("f", data: Data("abc".utf8), metadata: ["mtime": "1000000"])
        let clock = ManualClock()
        let v = VFS(store: memory, options: VFSOptions(defaults: defaults), clock: clock)
        let ino = try v.lookup(parent: VFS.rootIno, name: "f").attr.ino
        let fh = try v.open(ino, write: true)
        clock.advance(10)
        var change = AttrChange(size: 123)
        change.throughDescriptor = true
        let a = try v.setattr(ino, change)
        #expect(a.size == 123 && a.mtime == 1_000_010 && a.ctime == 1_000_010, "\(a)")
        clock.advance(5)
        #expect(try v.setattr(ino, AttrChange(size: 7)).ctime == 1_000_015)
        v.release(fh)
    }

    /// Past S3's largest object (5 TiB) a truncate or a write is `EFBIG`, and nothing changes.
    @Test func sizesPastTheLargestObjectAreTooLarge() throws {
        let memory = InMemoryObjectStore()
        try memory.put("f", data: Data("abc".utf8), metadata: [:])
        let v = vfs(memory)
        let ino = try v.lookup(parent: VFS.rootIno, name: "f").attr.ino
        let cut = #expect(throws: VFSError.self) { _ = try v.setattr(ino, AttrChange(size: 999_999_999_999_999)) }
        #expect(cut?.errno == EFBIG)
        let fh = try v.open(ino, write: true)
        let written = #expect(throws: VFSError.self) { _ = try v.write(fh, offset: (5 << 40) - 1, data: Data("xy".utf8)) }
        #expect(written?.errno == EFBIG)
        v.release(fh)
        #expect(try text(memory, "f") == "abc")
    }

    /// A directory renamed over an empty one takes its place, marker, attributes and contents
    /// (pjdfstest's rename/09 and 10; the empty one's marker was deleted after the new one was stored).
    @Test(arguments: [true, false]) func aDirectoryRenamedOverAnEmptyOneTakesItsPlace(renames: Bool) throws {
        let store = InMemoryObjectStore(offersRename: renames)
        try store.put("a/", data: Data(), metadata: [:])
        try store.put("a/f", data: Data("F".utf8), metadata: [:])
        try store.put("b/", data: Data(), metadata: [:])
        let v = vfs(store)
        let a = try v.lookup(parent: VFS.rootIno, name: "a").attr
        _ = try v.lookup(parent: VFS.rootIno, name: "b")
        try v.rename(parent: VFS.rootIno, name: "a", newParent: VFS.rootIno, newName: "b")
        #expect(store.keys == ["b/", "b/f"])
        #expect(try store.head("b/").metadata["uid"] == "\(a.uid)")
        #expect(try v.lookup(parent: VFS.rootIno, name: "b").attr == a)
        #expect(try text(store, "b/f") == "F")
    }

    /// With a store that has renames (SeaweedFS 4.42+, the daemon) each object moves in one request,
    /// with none that copies; without, by copy and delete — the same tree either way.
    @Test(arguments: [true, false]) func renameFilesOverExistingAndDirectoriesWithTheirContents(renames: Bool) throws {
        let store = InMemoryObjectStore(offersRename: renames)
        for (k, t) in [("a.txt", "A"), ("b.txt", "B"), ("d/one", "1"), ("d/sub/two", "2")] { try store.put(k, data: Data(t.utf8), metadata: ["mode": "33188"]) }
        try store.put("d/", data: Data(), metadata: [:])
        let counted = FaultInjectingStore(store)
        let v = vfs(counted)
        try v.rename(parent: VFS.rootIno, name: "a.txt", newParent: VFS.rootIno, newName: "b.txt")
        #expect(try text(store, "b.txt") == "A")
        #expect(!store.keys.contains("a.txt"))
        let refused = #expect(throws: VFSError.self) { try v.rename(parent: VFS.rootIno, name: "b.txt", newParent: VFS.rootIno, newName: "d", noReplace: true) }
        #expect(refused?.errno == EEXIST)
        #expect(try text(store, "b.txt") == "A")
        try v.rename(parent: VFS.rootIno, name: "d", newParent: VFS.rootIno, newName: "e")
        #expect(store.keys == ["b.txt", "e/", "e/one", "e/sub/two"])
        let e = try v.lookup(parent: VFS.rootIno, name: "e").attr.ino
        #expect(try v.readdir(e).map(\.name) == [".", "..", "one", "sub"])
        #expect(try store.head("e/sub/two").metadata["mode"] == "33188" && store.head("b.txt").metadata["mode"] == "33188")
        // The file and the directory's two objects: renamed, or copied (and their sources deleted);
        // and the renamed file's new ctime, a metadata-only copy onto itself.
        #expect(counted.calls(.rename) == 3)
        #expect(counted.calls(.copy) == (renames ? 0 : 3) + 1)
    }

    @Test func unlinkedOpenFileStaysReadableUntilClose() throws {
        let store = InMemoryObjectStore()
        try store.put("doomed", data: Data("still here".utf8), metadata: [:])
        let v = vfs(store)
        let ino = try v.lookup(parent: VFS.rootIno, name: "doomed").attr.ino
        let fh = try v.open(ino, write: false)
        try v.unlink(parent: VFS.rootIno, name: "doomed")
        #expect(store.keys.isEmpty)
        #expect(try v.read(fh, offset: 0, size: 100) == Data("still here".utf8))
        #expect(try v.getattr(ino).nlink == 0, "fstat of an unlinked file: no links left")
        v.release(fh)
        do { _ = try v.lookup(parent: VFS.rootIno, name: "doomed"); Issue.record("unlinked file still found") } catch let e as VFSError { #expect(e.errno == ENOENT) }
    }

    @Test func mkdirRmdirSymlinkAndAttributes() throws {
        let store = InMemoryObjectStore()
        let v = vfs(store)
        let d = try v.mkdir(parent: VFS.rootIno, name: "dir", mode: 0o750, uid: 1, gid: 2)
        #expect(store.keys == ["dir/"])
        do { _ = try v.mkdir(parent: VFS.rootIno, name: "dir", mode: 0o755, uid: 0, gid: 0); Issue.record("mkdir over a directory") } catch let e as VFSError { #expect(e.errno == EEXIST) }
        let (_, fh) = try v.create(parent: d.attr.ino, name: "f", mode: 0o644, uid: 0, gid: 0)
        try v.flush(fh)
        v.release(fh)
        do { try v.rmdir(parent: VFS.rootIno, name: "dir"); Issue.record("rmdir of a non-empty directory") } catch let e as VFSError { #expect(e.errno == ENOTEMPTY) }
        let fileIno = try v.lookup(parent: d.attr.ino, name: "f").attr.ino
        let a = try v.setattr(fileIno, AttrChange(mode: 0o600, uid: 9, mtime: 1_234_567))
        #expect(a.mode == 0o100600 && a.uid == 9 && a.mtime == 1_234_567)
        #expect(try store.head("dir/f").metadata["mode"] == String(0o100600))
        try v.unlink(parent: d.attr.ino, name: "f")
        try v.rmdir(parent: VFS.rootIno, name: "dir")
        #expect(store.keys.isEmpty)
        let l = try v.symlink(parent: VFS.rootIno, name: "ln", target: "../elsewhere", uid: 0, gid: 0)
        #expect(try v.readlink(l.attr.ino) == "../elsewhere")
        #expect(try store.head("ln").metadata["mode"] == String(0o120777))
    }
}
