import Foundation
import Mount
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The caches a directory read fills — the attributes a listing with metadata carries (handed to
/// the kernel by readdirplus) and the HEADs sent ahead after a plain listing — against another
/// client's PUT, metadata-only copy and DELETE, without a change feed: each change shows once
/// the metadata TTL has passed, and once the mount has seen a new version it never returns the
/// old one's bytes (SEMANTICS.md, "Caches, and how stale each can be").
@Suite struct VFSCacheStalenessTests {
    func readAll(_ vfs: VFS, _ ino: UInt64) throws -> Data {
        let fh = try vfs.open(ino, write: false)
        defer { vfs.release(fh) }
        return try vfs.read(fh, offset: 0, size: 1 << 20)
    }

    /// Another client's three changes, each checked after the TTL through `lookup` in `d`.
    func externalChangesShow(_ vfs: VFS, _ store: any ObjectStore, _ clock: ManualClock, d: UInt64) throws {
        try store.put("d/f", data: Data("eleven byte".utf8), metadata: ["mode": "\(0o100644)"])
        clock.advance(1.5)
        let new = try vfs.lookup(parent: d, name: "f").attr
        #expect(new.size == 11)
        #expect(try readAll(vfs, new.ino) == Data("eleven byte".utf8), "never the old version's bytes once the new one is seen")
        try store.copy(from: "d/f", to: "d/f", metadata: ["mode": "\(0o100600)"])
        clock.advance(1.5)
        #expect(try vfs.lookup(parent: d, name: "f").attr.mode & 0o777 == 0o600)
        try store.delete("d/f")
        clock.advance(1.5)
        #expect(throws: VFSError.self) { try vfs.lookup(parent: d, name: "f") }
    }

    @Test func attributesAListingCarriedGoStaleAfterTheTTL() throws {
        let store = InMemoryObjectStore(listsMetadata: true)
        try store.put("d/f", data: Data("one".utf8), metadata: ["mode": "\(0o100644)"])
        let clock = ManualClock()
        let vfs = VFS(store: store, options: VFSOptions(metadataTTL: 1, defaults: AttributeDefaults(uid: 0, gid: 0)), clock: clock)
        let d = try vfs.lookup(parent: VFS.rootIno, name: "d").attr.ino
        let entry = try #require(try vfs.readdir(d).first { $0.name == "f" })
        #expect(entry.listed != nil, "the listing carried the attributes")
        let known = try #require(vfs.lookupIfKnown(parent: d, entry: entry))
        #expect(known.attr.size == 3)
        #expect(try readAll(vfs, known.attr.ino) == Data("one".utf8))
        try externalChangesShow(vfs, store, clock, d: d)
    }

    @Test func headsSentAheadGoStaleAfterTheTTL() throws {
        let base = InMemoryObjectStore()
        for name in ["f", "g", "h"] { try base.put("d/\(name)", data: Data("one".utf8), metadata: ["mode": "\(0o100644)"]) }
        let store = FaultInjectingStore(base)
        let clock = ManualClock()
        let vfs = VFS(store: store, options: VFSOptions(metadataTTL: 1, defaults: AttributeDefaults(uid: 0, gid: 0)), clock: clock)
        let d = try vfs.lookup(parent: VFS.rootIno, name: "d").attr.ino
        let heads = store.calls(.head)
        #expect(try vfs.readdir(d).contains { $0.name == "f" && $0.listed == nil }, "a plain listing: HEADs are sent ahead")
        #expect(eventually(timeout: 10, every: 0.01) { store.calls(.head) == heads + 3 }, "the HEADs sent ahead were answered")
        // The first change lands while the old answer for f waits in the prefetch, unused.
        try externalChangesShow(vfs, store, clock, d: d)
    }

    /// Close-to-open: while a file is open for reading, no reply tells the kernel another size —
    /// not getattr, not a lookup, not a directory read's attributes (readdirplus).
    @Test func aFileOpenForReadingKeepsItsSizeInEveryReply() throws {
        let store = InMemoryObjectStore(listsMetadata: true)
        try store.put("d/f", data: Data("one".utf8), metadata: ["mode": "\(0o100644)"])
        let clock = ManualClock()
        let vfs = VFS(store: store, options: VFSOptions(metadataTTL: 1, defaults: AttributeDefaults(uid: 0, gid: 0)), clock: clock)
        let d = try vfs.lookup(parent: VFS.rootIno, name: "d").attr.ino
        let ino = try vfs.lookup(parent: d, name: "f").attr.ino
        let fh = try vfs.open(ino, write: false)
        try store.put("d/f", data: Data("eleven byte".utf8), metadata: ["mode": "\(0o100644)"])
        clock.advance(1.5)
        let entry = try #require(try vfs.readdir(d).first { $0.name == "f" })
        #expect(entry.listed?.size == 11, "the listing has the new version")
        #expect(vfs.lookupIfKnown(parent: d, entry: entry)?.attr.size == 3)
        #expect(try vfs.lookup(parent: d, name: "f").attr.size == 3)
        #expect(try vfs.getattr(ino).size == 3)
        vfs.release(fh)
        #expect(try vfs.getattr(ino).size == 11)
    }
}
