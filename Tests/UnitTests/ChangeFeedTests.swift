@testable import Daemon
import Foundation
@testable import Mount
import Testing
import TestSupport

/// The change feed's parts without an engine: what `weed filer.meta.tail` printed (a capture of
/// SeaweedFS 4.48's real output) becomes object changes, the daemon's ring keeps positions, and
/// the VFS applies a change without asking the store.
@Suite struct ChangeFeedTests {
    static let capture: Data = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/metatail.json")
        return (try? Data(contentsOf: url)) ?? Data()
    }()

    @Test func theTailsOutputBecomesObjectChanges() throws {
        var decoder = MetaTailDecoder()
        let objects = decoder.feed(Self.capture)
        #expect(objects.count == 7)
        let changes = objects.flatMap(MetaTailDecoder.changes)
        // .system and the bucket itself are not objects; a rename is a delete and a put.
        #expect(changes.map { "\($0.op.rawValue) \($0.bucket)/\($0.key)" } == [
            "put feedb/a/", "put feedb/a/b.txt", "put feedb/a/b.txt", "delete feedb/a/b.txt",
            "delete feedb/r/old.txt", "put feedb/r/new.txt",
        ])
        let put = changes[1]
        #expect(put.etag == "5d41402abc4b2a76b9719d911017c592")
        #expect(put.size == 5)
        #expect(put.mtime == 1_796_420_436)
        #expect(put.metadata == ["mode": "420"])
        #expect(put.seq == 1_796_420_436_245_155_896)
        // A metadata-only copy: same bytes, new metadata and ETag as the engine stored them.
        #expect(changes[2].metadata == ["mode": "493"])
        #expect(changes[2].etag == "6e809cbda0732ac4845916a59016f954")
        #expect(changes[0].etag == nil && changes[0].size == nil)
        #expect(changes[5].etag == "6b55b8bb0a0a90df67a75819cd3bb8b1" && changes[5].size == 9)
    }

    @Test func objectsSplitAnywhereDecodeTheSame() {
        let whole = { () -> [Data] in var d = MetaTailDecoder(); return d.feed(Self.capture) }()
        for step in [1, 7, 100, 4096] {
            var d = MetaTailDecoder()
            var out: [Data] = []
            var i = 0
            while i < Self.capture.count {
                out += d.feed(Self.capture[i..<min(i + step, Self.capture.count)])
                i += step
            }
            #expect(out == whole, "pieces of \(step) bytes")
        }
        // Braces inside strings do not end an object.
        var d = MetaTailDecoder()
        let tricky = Data(#"{"directory":"/buckets/b/x}{","eventNotification":{"newEntry":{"name":"a\"}b"}},"tsNs":"5"}"#.utf8)
        let one = d.feed(tricky)
        #expect(one.count == 1)
        #expect(MetaTailDecoder.changes(one[0]).map(\.key) == ["x}{/a\"}b"])
    }

    @Test func aLineIsOneJSONObjectWithEveryField() throws {
        let c = ChangeEvent(seq: 42, bucket: "b", key: "dir/\"q\"\n.txt", op: .put, etag: "e", size: 3, mtime: 9, metadata: ["mode": "420"])
        let o = try #require(try JSONSerialization.jsonObject(with: Data(c.line.utf8)) as? [String: Any])
        #expect(o["key"] as? String == "dir/\"q\"\n.txt")
        #expect((o["seq"] as? NSNumber)?.uint64Value == 42)
        #expect(o["meta"] as? [String: String] == ["mode": "420"])
        #expect(c.line.hasSuffix("}\n") && c.line.filter { $0 == "\n" }.count == 1)
    }

    @Test func followersReadFromTheirPositionAndAreToldWhenItIsGone() async {
        let feed = ChangeFeed(capacity: 4)
        #expect(feed.isCovering == false)
        feed.covering(from: 100)
        // No position: from now on.
        #expect(await feed.read(bucket: "b", after: nil, wait: .zero) == .changes([], position: 100))
        feed.append([ChangeEvent(seq: 101, bucket: "b", key: "x", op: .put), ChangeEvent(seq: 102, bucket: "other", key: "y", op: .put),
                     ChangeEvent(seq: 103, bucket: "b", key: "x", op: .delete)])
        #expect(await feed.read(bucket: "b", after: 100, wait: .zero) == .changes([ChangeEvent(seq: 101, bucket: "b", key: "x", op: .put),
                                                                                      ChangeEvent(seq: 103, bucket: "b", key: "x", op: .delete)], position: 103))
        #expect(await feed.read(bucket: "b", after: 101, wait: .zero) == .changes([ChangeEvent(seq: 103, bucket: "b", key: "x", op: .delete)], position: 103))
        // Another bucket's changes only move the position.
        #expect(await feed.read(bucket: "b", after: 103, wait: .zero) == .changes([], position: 103))
        // Replayed events (a restarted tail) are not kept twice.
        feed.append([ChangeEvent(seq: 103, bucket: "b", key: "x", op: .delete)])
        #expect(await feed.read(bucket: "b", after: 102, wait: .zero) == .changes([ChangeEvent(seq: 103, bucket: "b", key: "x", op: .delete)], position: 103))
        // Beyond the capacity the oldest are dropped: a follower behind them must revalidate.
        feed.append((104...106).map { ChangeEvent(seq: UInt64($0), bucket: "b", key: "k\($0)", op: .put) })
        #expect(await feed.read(bucket: "b", after: 100, wait: .zero) == .reset(position: 106))
        #expect(await feed.read(bucket: "b", after: 99, wait: .zero) == .reset(position: 106))
        feed.close()
        #expect(await feed.read(bucket: "b", after: 106, wait: .seconds(5)) == .closed)
    }

    /// A wait of an hour that returns within the test's time limit was woken by the append (not
    /// timed: the test runs beside integration tests that keep the cores busy).
    @Test(.timeLimit(.minutes(3))) func aWaitingFollowerWakesAtTheChangeNotAtTheTick() async {
        let feed = ChangeFeed()
        feed.covering(from: 1)
        async let read = feed.read(bucket: "b", after: 1, wait: .seconds(3600))
        try? await Task.sleep(for: .milliseconds(50))
        feed.append([ChangeEvent(seq: 2, bucket: "b", key: "x", op: .put)])
        #expect(await read == .changes([ChangeEvent(seq: 2, bucket: "b", key: "x", op: .put)], position: 2))
    }

    // MARK: the mount's side

    func fixture() throws -> (FaultInjectingStore, VFS, ManualClock) {
        let base = InMemoryObjectStore()
        try base.put("d/f.txt", data: Data("one".utf8), metadata: ["mode": "33188"])
        let store = FaultInjectingStore(base)
        let clock = ManualClock()
        let vfs = VFS(store: store, options: VFSOptions(metadataTTL: 1, defaults: AttributeDefaults(uid: 0, gid: 0)), clock: clock)
        return (store, vfs, clock)
    }

    @Test func aChangeDropsOrReplacesTheCachedAttributes() throws {
        let (store, vfs, clock) = try fixture()
        vfs.feedAlive(for: 6)
        let d = try vfs.lookup(parent: VFS.rootIno, name: "d").attr.ino
        let f = try vfs.lookup(parent: d, name: "f.txt").attr
        #expect(f.size == 3)
        clock.advance(30)  // past the metadata TTL, within the followed one: trusted, no HEAD
        vfs.feedAlive(for: 6)
        var heads = store.calls(.head)
        #expect(try vfs.getattr(f.ino).size == 3)
        #expect(store.calls(.head) == heads)

        // A metadata-only copy by another client (same ETag and size): taken from the change, no HEAD.
        let etag = try #require(store.head("d/f.txt").etag).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        heads = store.calls(.head)
        try store.copy(from: "d/f.txt", to: "d/f.txt", metadata: ["mode": "33152"])
        vfs.applyChange(ObjectChange(op: .put, key: "d/f.txt", etag: etag, size: 3, mtime: 1_700_000_000, metadata: ["mode": "33152"]))
        #expect(try vfs.getattr(f.ino).mode & 0o777 == 0o600)
        #expect(store.calls(.head) == heads, "the change carried the attributes")

        // New contents: asked again at the next use (whose open makes the kernel drop the old size).
        try store.put("d/f.txt", data: Data("eleven byte".utf8), metadata: ["mode": "33188"])
        vfs.applyChange(ObjectChange(op: .put, key: "d/f.txt", etag: "other", size: 11, mtime: 1_700_000_001, metadata: ["mode": "33188"]))
        #expect(try vfs.getattr(f.ino).size == 11)
        #expect(store.calls(.head) == heads + 1)

        // Another client deletes it: the cached inode would answer for the followed TTL; the
        // change makes the mount forget it at once.
        #expect(try vfs.lookup(parent: d, name: "f.txt").attr.size == 11)
        try store.delete("d/f.txt")
        vfs.applyChange(ObjectChange(op: .delete, key: "d/f.txt"))
        #expect(throws: VFSError.self) { try vfs.lookup(parent: d, name: "f.txt") }
    }

    /// `mv a b; mv b a` (pjdfstest's rename tests): the feed's echoes of the first rename come
    /// after the second. They are this mount's own changes: `f.txt` keeps its inode number and
    /// `g.txt` does not appear. A change of another client's that crosses the mount's own makes
    /// it ask the store again instead of guessing which came last.
    @Test func theMountsOwnChangesEchoedLateChangeNothing() throws {
        let base = InMemoryObjectStore(offersRename: true)
        try base.put("d/f.txt", data: Data("one".utf8), metadata: ["mode": "33188"])
        let store = FaultInjectingStore(base)
        let clock = ManualClock()
        let vfs = VFS(store: store, options: VFSOptions(metadataTTL: 1, defaults: AttributeDefaults(uid: 0, gid: 0)), clock: clock)
        vfs.feedAlive(for: 600)
        let d = try vfs.lookup(parent: VFS.rootIno, name: "d").attr.ino
        let f = try vfs.lookup(parent: d, name: "f.txt").attr.ino
        try vfs.rename(parent: d, name: "f.txt", newParent: d, newName: "g.txt")
        try vfs.rename(parent: d, name: "g.txt", newParent: d, newName: "f.txt")
        let etag = try #require(base.head("d/f.txt").etag).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        // What the engine reports: each rename as a delete and a put, and the put of the copy
        // onto itself that stores the renamed file's ctime.
        let put = { (key: String) in ObjectChange(op: .put, key: key, etag: etag, size: 3) }
        for c in [ObjectChange(op: .delete, key: "d/f.txt"), put("d/g.txt"), put("d/g.txt"),
                  ObjectChange(op: .delete, key: "d/g.txt"), put("d/f.txt"), put("d/f.txt")] {
            vfs.applyChange(c)
        }
        #expect(try vfs.lookup(parent: d, name: "f.txt").attr.ino == f)
        #expect(throws: VFSError.self) { try vfs.lookup(parent: d, name: "g.txt") }
        #expect(vfs.ownChanges.pending == 0)

        // Expected: this mount's delete; reported first: another client's put of the name.
        clock.advance(0.5)
        try vfs.unlink(parent: d, name: "f.txt")
        try store.put("d/f.txt", data: Data("theirs".utf8), metadata: ["mode": "33188"])
        vfs.applyChange(ObjectChange(op: .put, key: "d/f.txt", etag: "theirs", size: 6))
        #expect(try vfs.lookup(parent: d, name: "f.txt").attr.size == 6, "the store was asked")
        vfs.applyChange(ObjectChange(op: .delete, key: "d/f.txt"))  // the echo of the unlink
        #expect(try vfs.lookup(parent: d, name: "f.txt").attr.size == 6)
    }

    @Test func anAnswerThatCrossedAChangeIsTrustedForTheTTLOnly() throws {
        let (store, vfs, clock) = try fixture()
        vfs.feedAlive(for: 600)
        let d = try vfs.lookup(parent: VFS.rootIno, name: "d").attr.ino
        // The HEAD of this lookup is answered while a change of another key comes in.
        let hold = store.holdNext(.head)
        let looked = Thread { _ = try? vfs.lookup(parent: d, name: "f.txt") }
        looked.start()
        #expect(hold.waitUntilHeld(timeout: 10))
        vfs.applyChange(ObjectChange(op: .put, key: "d/other.txt", etag: "e", size: 1))
        hold.release()
        while !looked.isFinished { usleep(1000) }
        let heads = store.calls(.head)
        clock.advance(2)
        _ = try vfs.lookup(parent: d, name: "f.txt")
        #expect(store.calls(.head) == heads + 1, "an answer older than a change is not kept past the metadata TTL")
    }

    @Test func withoutTheFeedNothingIsTrustedPastTheMetadataTTL() throws {
        let (store, vfs, clock) = try fixture()
        vfs.feedAlive(for: 6)
        let d = try vfs.lookup(parent: VFS.rootIno, name: "d").attr.ino
        let f = try vfs.lookup(parent: d, name: "f.txt").attr
        clock.advance(2)
        vfs.feedAlive(for: 6)
        let heads = store.calls(.head)
        _ = try vfs.getattr(f.ino)
        #expect(store.calls(.head) == heads, "trusted while the feed is up")
        vfs.feedLost()
        clock.advance(1.5)
        _ = try vfs.getattr(f.ino)
        #expect(store.calls(.head) == heads + 1, "asked again once the feed is lost and the TTL passed")
        // A reset: everything is asked again.
        vfs.feedAlive(for: 6)
        _ = try vfs.getattr(f.ino)
        vfs.revalidateAll()
        _ = try vfs.getattr(f.ino)
        #expect(store.calls(.head) == heads + 2)
    }
}
