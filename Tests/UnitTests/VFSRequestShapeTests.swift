import Foundation
import Synchronization
import Mount
import Testing
import TestSupport

/// How many object requests common work costs: what makes the mount fast (or slow) over a real
/// network, checked by counting the calls that reach the store.
@Suite struct VFSRequestShapeTests {
    let defaults = AttributeDefaults(uid: 0, gid: 0)

    func fixture() -> (InMemoryObjectStore, FaultInjectingStore, VFS, ManualClock) {
        let base = InMemoryObjectStore()
        let counted = FaultInjectingStore(base)
        let clock = ManualClock()
        return (base, counted, VFS(store: counted, options: VFSOptions(defaults: defaults), clock: clock), clock)
    }

    /// The shell's `printf x > file`: lookup (miss), create, close of a dup before the write,
    /// write, close, release.
    func shellCreate(_ v: VFS, parent: UInt64, name: String, body: String) throws {
        do {
            _ = try v.lookup(parent: parent, name: name)
            Issue.record("\(name) existed")
        } catch let e as VFSError where e.code == .notFound {}
        let (_, fh) = try v.create(parent: parent, name: name, mode: 0o644, uid: 0, gid: 0)
        try v.flush(fh)
        _ = try v.write(fh, offset: 0, data: Data(body.utf8))
        try v.flush(fh)
        v.release(fh)
    }

    @Test func creatingManyFilesCostsOnePutEachAfterOneListing() throws {
        let (base, counted, v, _) = fixture()
        let dir = try v.mkdir(parent: VFS.rootIno, name: "small", mode: 0o755, uid: 0, gid: 0).attr.ino
        let before = (counted.calls(.head), counted.calls(.list), counted.calls(.put))
        for i in 0..<200 { try shellCreate(v, parent: dir, name: "f\(i)", body: "file \(i)") }
        #expect(counted.calls(.put) - before.2 == 200)
        #expect(counted.calls(.head) - before.0 <= 1)
        #expect(counted.calls(.list) - before.1 <= 1)
        #expect(try base.read("small/f199", range: 0..<100, etag: nil) == Data("file 199".utf8))
    }

    @Test func aFileCreatedAndClosedUnwrittenIsStoredByItsLastRelease() throws {
        let (base, _, v, _) = fixture()
        let (_, fh) = try v.create(parent: VFS.rootIno, name: "touched", mode: 0o600, uid: 0, gid: 0)
        try v.flush(fh)
        #expect(!base.keys.contains("touched"))  // a dup of the descriptor may still write
        v.release(fh)
        #expect(base.keys.contains("touched"))
        #expect(try base.head("touched").metadata["mode"] == String(0o100600))
    }

    @Test func fsyncOfAnUnwrittenNewFileStoresItAtOnce() throws {
        let (base, _, v, _) = fixture()
        let (_, fh) = try v.create(parent: VFS.rootIno, name: "synced", mode: 0o644, uid: 0, gid: 0)
        try v.flush(fh, sync: true)
        #expect(base.keys.contains("synced"))
        v.release(fh)
    }

    @Test func aNameAddedByAnotherClientShowsUpWhenTheListingExpires() throws {
        let (base, _, v, clock) = fixture()
        #expect(throws: VFSError.self) { try v.lookup(parent: VFS.rootIno, name: "late") }
        try base.put("late", data: Data("x".utf8), metadata: [:])
        #expect(throws: VFSError.self) { try v.lookup(parent: VFS.rootIno, name: "late") }  // within the TTL
        clock.advance(1.01)
        #expect(try v.lookup(parent: VFS.rootIno, name: "late").attr.size == 1)
    }

    /// A directory of more than 5000 entries is not snapshotted: each missing name costs a HEAD,
    /// and the listing is not tried again for a minute. 5000 entries still are.
    @Test func aDirectoryOfMoreThan5000EntriesIsNotSnapshottedForAMinute() throws {
        let (base, counted, v, clock) = fixture()
        for i in 0..<5001 { try base.put("big/f\(i)", data: Data(), metadata: [:]) }
        for i in 0..<5000 { try base.put("fits/f\(i)", data: Data(), metadata: [:]) }
        func miss(_ dir: UInt64, _ name: String) -> (heads: Int, lists: Int) {
            let before = (counted.calls(.head), counted.calls(.list))
            let e = #expect(throws: VFSError.self) { try v.lookup(parent: dir, name: name) }
            #expect(e?.errno == ENOENT)
            return (counted.calls(.head) - before.0, counted.calls(.list) - before.1)
        }
        let big = try v.lookup(parent: VFS.rootIno, name: "big").attr.ino
        let fits = try v.lookup(parent: VFS.rootIno, name: "fits").attr.ino
        #expect(miss(fits, "a") == (1, 1))  // the HEAD, then the listing that becomes the snapshot
        #expect(miss(fits, "b") == (0, 0))  // answered by the snapshot
        // Without a snapshot a miss asks the store: the HEAD, and a listing of "<name>/" (is it a
        // directory?). The first also tries the directory's listing: too big to keep.
        #expect(miss(big, "a") == (1, 2))
        #expect(miss(big, "b") == (1, 1))   // the directory's listing is not tried for a minute
        clock.advance(59)
        #expect(miss(big, "c") == (1, 1))
        clock.advance(2)
        #expect(miss(big, "d") == (1, 2))   // a minute later it is tried again
    }

    @Test func statOfEveryListedFileUsesHeadsSentAheadAndKeepsModes() throws {
        let (base, counted, v, _) = fixture()
        for i in 0..<50 { try base.put("d/f\(i)", data: Data(count: i), metadata: ["mode": String(0o100600 + (i % 2) * 0o40)]) }
        let dir = try v.lookup(parent: VFS.rootIno, name: "d").attr.ino
        let before = counted.calls(.head)
        // Eight at a time: with the first nine HEADs held at the store, eight arrive and the ninth waits.
        let held = (0..<9).map { _ in counted.holdNext(.head) }
        let names = try v.readdir(dir).map(\.name).filter { $0.hasPrefix("f") }
        #expect(names.count == 50)
        #expect(held.prefix(8).allSatisfy { $0.waitUntilHeld(timeout: 10) })
        #expect(!eventually(timeout: 0.5) { counted.calls(.head) > before + 8 })
        held.forEach { $0.release() }
        // Sent ahead: all 50 go out after the listing, before anything is looked up ...
        #expect(eventually(timeout: 10) { counted.calls(.head) == before + 50 })
        for name in names {
            let i = Int(name.dropFirst())!
            let a = try v.lookup(parent: dir, name: name).attr
            #expect(a.size == Int64(i))
            #expect(a.mode == 0o100600 + UInt32(i % 2) * 0o40)
        }
        // ... and the lookups that follow take their answers: no HEAD more.
        #expect(counted.calls(.head) == before + 50)
    }

    /// Against a store whose listings carry each entry's metadata (the daemon's `metadata=true`),
    /// `ls -l` costs the listing alone: no HEAD, and the modes are the stored ones. An entry the
    /// listing gave without metadata still gets its HEAD.
    @Test func aListingThatCarriesMetadataMakesStatOfEveryFileFree() throws {
        let base = InMemoryObjectStore(listsMetadata: true)
        let counted = FaultInjectingStore(base)
        let v = VFS(store: counted, options: VFSOptions(defaults: defaults), clock: ManualClock())
        for i in 0..<50 { try base.put("d/f\(i)", data: Data(count: i), metadata: ["mode": String(0o100600 + (i % 2) * 0o40), "uid": "\(i)"]) }
        let dir = try v.lookup(parent: VFS.rootIno, name: "d").attr.ino
        let before = counted.calls(.head)
        let names = try v.readdir(dir).map(\.name).filter { $0.hasPrefix("f") }
        #expect(names.count == 50)
        for name in names {
            let i = Int(name.dropFirst())!
            let a = try v.lookup(parent: dir, name: name).attr
            #expect(a.size == Int64(i) && a.mode == 0o100600 + UInt32(i % 2) * 0o40 && a.uid == UInt32(i))
        }
        #expect(counted.calls(.head) == before)

        let plain = InMemoryObjectStore(listsMetadata: false)
        let countedPlain = FaultInjectingStore(plain)
        let w = VFS(store: countedPlain, options: VFSOptions(defaults: defaults), clock: ManualClock())
        for i in 0..<5 { try plain.put("d/f\(i)", data: Data(), metadata: ["mode": String(0o100600)]) }
        let d2 = try w.lookup(parent: VFS.rootIno, name: "d").attr.ino
        let heads = countedPlain.calls(.head)
        for e in try w.readdir(d2) where e.name.hasPrefix("f") { #expect(try w.lookup(parent: d2, name: e.name).attr.mode == 0o100600) }
        #expect(countedPlain.calls(.head) == heads + 5)
    }

    @Test func sequentialReadsBecomeFewLargeRangedGets() throws {
        let (base, counted, v, _) = fixture()
        let size = 20 << 20
        let body = Data((0..<size).map { (i: Int) -> UInt8 in UInt8(truncatingIfNeeded: (i &* 2654435761) >> 7) })
        try base.put("big", data: body, metadata: [:])
        let ino = try v.lookup(parent: VFS.rootIno, name: "big").attr.ino
        let fh = try v.open(ino, write: false)
        var got = Data()
        var offset: Int64 = 0
        while true {
            let d = try v.read(fh, offset: offset, size: 128 << 10)
            if d.isEmpty { break }
            got.append(d)
            offset += Int64(d.count)
        }
        v.release(fh)
        #expect(got == body)
        #expect(counted.calls(.read) <= 4)  // 8 MiB chunks, not 160 reads of 128 KiB
    }

    /// A read at offset 0 starts read-ahead (two 8 MiB chunks); the random reads after it fetch
    /// only their own 4 KiB, also those that land in a chunk already fetched (served from it, with
    /// nothing more fetched ahead), and every one gets its own page's bytes.
    @Test func randomSmallReadsFetchOnlyWhatIsAsked() throws {
        let (base, counted, v, _) = fixture()
        let pages = 16 << 10  // 64 MiB of 4 KiB pages, each filled with its own byte
        var body = Data(capacity: pages * 4096)
        for p in 0..<pages { body.append(Data(repeating: UInt8(truncatingIfNeeded: p % 251), count: 4096)) }
        try base.put("big", data: body, metadata: [:])
        let ino = try v.lookup(parent: VFS.rootIno, name: "big").attr.ino
        let fh = try v.open(ino, write: false)
        #expect(try v.read(fh, offset: 0, size: 4096) == body.prefix(4096))
        var rng = SplitMix64(state: 18)
        var lastEnd: Int64 = 4096, inFetched = 0
        for _ in 0..<50 {
            var page: Int64
            repeat { page = Int64.random(in: 0..<Int64(pages), using: &rng) } while abs(page * 4096 - lastEnd) <= 2 << 20
            let got = try v.read(fh, offset: page * 4096, size: 4096)
            #expect(got == Data(repeating: UInt8(truncatingIfNeeded: page % 251), count: 4096), "page \(page)")
            if page * 4096 < 16 << 20 { inFetched += 1 }
            lastEnd = page * 4096 + 4096
        }
        v.release(fh)
        #expect(inFetched >= 5, "the seed must put some reads in the chunks read-ahead fetched")
        let chunks = counted.reads.filter { $0.count > 4096 }
        #expect(chunks.count <= 2 && chunks.allSatisfy { $0.count == 8 << 20 && $0.lowerBound < 16 << 20 }, "\(chunks)")
        #expect(counted.reads.count - chunks.count == 50 - inFetched, "each random read outside them is one 4 KiB GET")
    }

    @Test func anObjectReplacedDuringASequentialReadIsStaleNotMixed() throws {
        let (base, _, v, _) = fixture()
        try base.put("big", data: Data(repeating: 1, count: 40 << 20), metadata: [:])
        let ino = try v.lookup(parent: VFS.rootIno, name: "big").attr.ino
        let fh = try v.open(ino, write: false)
        _ = try v.read(fh, offset: 0, size: 1 << 20)
        try base.put("big", data: Data(repeating: 2, count: 40 << 20), metadata: [:])
        var failed: VFSError?
        var offset: Int64 = 1 << 20
        while offset < 40 << 20 {
            do {
                let d = try v.read(fh, offset: offset, size: 1 << 20)
                #expect(d.allSatisfy { $0 == 1 })
                offset += Int64(d.count)
            } catch let e as VFSError {
                failed = e
                break
            }
        }
        v.release(fh)
        #expect(failed?.errno == ESTALE)
    }
}

@Suite struct VFSPageCacheTests {
    @Test func theKernelKeepsCachedPagesOnlyWhileTheETagIsTheSame() throws {
        let store = InMemoryObjectStore()
        let clock = ManualClock()
        let v = VFS(store: store, options: VFSOptions(defaults: AttributeDefaults(uid: 0, gid: 0)), clock: clock)
        try store.put("f", data: Data("one".utf8), metadata: [:])
        let ino = try v.lookup(parent: VFS.rootIno, name: "f").attr.ino
        func openRead() throws -> Bool {
            let fh = try v.open(ino, write: false)
            defer { v.release(fh) }
            return v.keepsCache(fh)
        }
        #expect(try openRead() == false)  // nothing cached yet
        #expect(try openRead() == true)   // same ETag: the pages are still right
        try store.put("f", data: Data("two".utf8), metadata: [:])  // another client
        clock.advance(1.01)
        #expect(try openRead() == false)  // changed: the kernel must drop its pages
        #expect(try openRead() == true)
        let fh = try v.open(ino, write: true)
        #expect(v.keepsCache(fh) == false)
        _ = try v.write(fh, offset: 0, data: Data("three".utf8))
        try v.flush(fh)
        v.release(fh)
        #expect(try openRead() == true)  // written through this mount: the cache holds those bytes
    }
}

/// An open that finds the object changed tells the kernel to drop the inode's attributes before it
/// answers (the kernel would otherwise clamp reads to the old size: MountCoherenceTests).
@Suite struct VFSKernelInvalidationTests {
    @Test func anOpenThatFindsANewVersionInvalidatesTheKernelsAttributesOnce() throws {
        let store = InMemoryObjectStore()
        try store.put("f", data: Data("one".utf8), metadata: [:])
        let clock = ManualClock()
        let v = VFS(store: store, options: VFSOptions(metadataTTL: 1, defaults: AttributeDefaults(uid: 0, gid: 0)), clock: clock)
        let told = Mutex<[UInt64]>([])
        v.attachKernel(invalidate: { ino in told.withLock { $0.append(ino) } })
        let ino = try v.lookup(parent: VFS.rootIno, name: "f").attr.ino
        func openRead() throws { v.release(try v.open(ino, write: false)) }
        try openRead()  // a first open: the size the kernel has came from a lookup, maybe long ago
        #expect(told.withLock { $0 } == [ino])
        clock.advance(1.01)
        try openRead()  // refreshed, unchanged: the kernel's size is right
        #expect(told.withLock { $0 } == [ino])
        try store.put("f", data: Data("a longer second version".utf8), metadata: [:])  // another client
        try openRead()  // within the TTL: not looked at yet
        #expect(told.withLock { $0 } == [ino])
        clock.advance(1.01)
        try openRead()
        #expect(told.withLock { $0 } == [ino, ino], "once for the new version")
        #expect(try v.getattr(ino).size == 23)  // what the kernel asks next
        clock.advance(1.01)
        try openRead()
        #expect(told.withLock { $0 } == [ino, ino], "the same version again: nothing to drop")
        // A getattr learns the next version before any open does: the open still tells the kernel.
        try store.put("f", data: Data("third".utf8), metadata: [:])
        clock.advance(1.01)
        #expect(try v.getattr(ino).size == 5)
        try openRead()
        #expect(told.withLock { $0 } == [ino, ino, ino])
        v.attachKernel(invalidate: nil)
        try store.put("f", data: Data("3".utf8), metadata: [:])
        clock.advance(1.01)
        try openRead()  // no session any more: nothing is called
        #expect(told.withLock { $0 }.count == 3)
    }
}

@Suite struct VFSStableAttributesTests {
    @Test func attributesDoNotChangeWhenTheyAreReadAgain() throws {
        let store = InMemoryObjectStore()
        let clock = ManualClock()
        clock.advance(0.25)  // a fractional "now"
        let v = VFS(store: store, options: VFSOptions(defaults: AttributeDefaults(uid: 0, gid: 0)), clock: clock)
        let dir = try v.mkdir(parent: VFS.rootIno, name: "d", mode: 0o750, uid: 0, gid: 0).attr
        let (e, fh) = try v.create(parent: dir.ino, name: "f", mode: 0o644, uid: 0, gid: 0)
        _ = try v.write(fh, offset: 0, data: Data("x".utf8))
        _ = try v.setattr(e.attr.ino, AttrChange(mtime: 1_600_000_000.75))  // futimens before close
        try v.flush(fh)
        v.release(fh)
        let before = (try v.getattr(dir.ino), try v.getattr(e.attr.ino))
        #expect(before.1.mtime == 1_600_000_000)
        clock.advance(5)  // past the TTL: both are read from the store again
        let after = (try v.getattr(dir.ino), try v.getattr(e.attr.ino))
        #expect(after.0 == before.0)
        #expect(after.1 == before.1)
    }
}
