import Foundation
import Synchronization

/// What this mount itself changed in the store that the change feed has not yet reported back.
///
/// The feed reports every change, this mount's own too, a few milliseconds after the store made
/// it — by then the mount may have made a later change to the same name (`mv a b; mv b a`: the
/// feed's "a deleted" arrives after `a` exists again). Applying such an echo would forget a file
/// that exists (it comes back with a new inode number) or show one that does not. So each change
/// this mount sends is expected, in order, per key: a feed change that matches the oldest
/// expected one is this mount's own and is dropped; one that does not, while changes are
/// expected, crossed them (another client changed the name meanwhile), and what the mount knows
/// of the name is asked again. Expectations last `lifetime` seconds (the feed's echo comes in
/// milliseconds); none are kept while no feed is up.
final class OwnChanges: Sendable {
    enum Echo: Equatable {
        /// The mount's own change, already applied.
        case own
        /// Another client changed the name while this mount's changes were on their way.
        case crossed
        /// Nothing of this mount's is expected for the name.
        case foreign
    }

    private struct Expected {
        var op: ObjectChange.Op
        var until: Double
        /// Reported only in some cases (a rename's delete of the target it replaces).
        var optional: Bool
    }

    private struct Book {
        var byKey: [String: [Expected]] = [:]
        var count = 0
    }

    private let book = Mutex(Book())
    private let active = Atomic<Bool>(false)
    let lifetime: Double
    /// Most expectations kept at once; past it the expired ones are dropped, and all of them if
    /// that is not enough (their echoes then count as crossed or foreign: more requests).
    let limit: Int

    init(lifetime: Double = 30, limit: Int = 100_000) {
        self.lifetime = lifetime
        self.limit = limit
    }

    /// Whether a feed is up (expectations are kept only then).
    func following(_ up: Bool) {
        active.store(up, ordering: .relaxed)
        if !up { book.withLock { $0 = Book() } }
    }

    /// The mount is about to send `op` for `key` (`optional`: the store reports it only
    /// sometimes).
    func expect(_ op: ObjectChange.Op, _ key: String, optional: Bool = false, now: Double) {
        guard active.load(ordering: .relaxed) else { return }
        book.withLock { b in
            if b.count >= limit { prune(&b, now: now) }
            b.byKey[key, default: []].append(Expected(op: op, until: now + lifetime, optional: optional))
            b.count += 1
        }
    }

    /// The change expected last for `key` was not made (the request failed).
    func withdraw(_ op: ObjectChange.Op, _ key: String) {
        book.withLock { b in
            guard let i = b.byKey[key]?.lastIndex(where: { $0.op == op }) else { return }
            b.byKey[key]!.remove(at: i)
            b.count -= 1
            if b.byKey[key]!.isEmpty { b.byKey[key] = nil }
        }
    }

    /// What a feed change of `key` is to this mount.
    func echo(_ op: ObjectChange.Op, _ key: String, now: Double) -> Echo {
        book.withLock { b in
            guard var list = b.byKey[key] else { return .foreign }
            let before = list.count
            list.removeAll { $0.until < now }
            while let first = list.first, first.optional, first.op != op { list.removeFirst() }
            defer {
                b.count -= before - list.count
                b.byKey[key] = list.isEmpty ? nil : list
            }
            guard let first = list.first else { return .foreign }
            guard first.op == op else { return .crossed }
            list.removeFirst()
            return .own
        }
    }

    var pending: Int { book.withLock { $0.count } }

    private func prune(_ b: inout Book, now: Double) {
        for (key, list) in b.byKey {
            let kept = list.filter { $0.until >= now }
            b.count -= list.count - kept.count
            b.byKey[key] = kept.isEmpty ? nil : kept
        }
        // Still full: the mount changes names faster than the feed echoes them; forget the lot.
        if b.count >= limit { b = Book() }
    }
}

/// The store as the VFS uses it: every change it sends is first expected in `OwnChanges`.
struct OwnChangesStore: ObjectStore {
    let base: any ObjectStore
    let own: OwnChanges
    let clock: any Clock

    /// One change the store will report: `optional` ones are reported only in some cases.
    private typealias Change = (op: ObjectChange.Op, key: String, optional: Bool)

    /// Runs a change of the store, expected beforehand (its echo may come before the answer)
    /// and withdrawn when it fails.
    private func changing<T>(_ changes: [Change], _ work: () throws -> T) rethrows -> T {
        let now = clock.now()
        for c in changes { own.expect(c.op, c.key, optional: c.optional, now: now) }
        do {
            return try work()
        } catch {
            for c in changes.reversed() { own.withdraw(c.op, c.key) }
            throw error
        }
    }

    func head(_ key: String) throws -> ObjectMeta { try base.head(key) }
    func read(_ key: String, range: Range<Int64>, etag: String?) throws -> Data { try base.read(key, range: range, etag: etag) }
    func read(_ key: String, range: Range<Int64>, etag: String?, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try base.read(key, range: range, etag: etag, into: buffer)
    }
    func put(_ key: String, data: Data, metadata: [String: String]) throws -> ObjectMeta {
        // A directory's marker: the daemon then keeps its attributes on the filer's entry, which
        // the engine reports as a second change.
        let second: [Change] = key.hasSuffix("/") ? [(.put, key, true)] : []
        return try changing([(.put, key, false)] + second) { try base.put(key, data: data, metadata: metadata) }
    }
    func copy(from source: String, to destination: String, metadata: [String: String]?, retype: Bool) throws {
        try changing([(.put, destination, false)]) { try base.copy(from: source, to: destination, metadata: metadata, retype: retype) }
    }
    func delete(_ key: String) throws {
        try changing([(.delete, key, false)]) { try base.delete(key) }
    }
    func rename(from source: String, to destination: String) throws -> Bool {
        // The engine reports the replaced target's removal first, when there was one.
        let moved = try changing([(.delete, destination, true), (.delete, source, false), (.put, destination, false)]) {
            try base.rename(from: source, to: destination)
        }
        if !moved {  // nothing was done: the VFS copies and deletes instead
            own.withdraw(.put, destination)
            own.withdraw(.delete, source)
            own.withdraw(.delete, destination)
        }
        return moved
    }
    func list(prefix: String) throws -> StoreListing { try base.list(prefix: prefix) }
    func listPages(prefix: String, _ page: (StoreListing) throws -> Void) throws { try base.listPages(prefix: prefix, page) }
    func listFirst(prefix: String, limit: Int) throws -> (listing: StoreListing, complete: Bool) {
        try base.listFirst(prefix: prefix, limit: limit)
    }
    func putFile(_ key: String, path: String, size: Int64, local: ByteRanges, base object: BaseObject, metadata: [String: String]) throws -> ObjectMeta {
        try changing([(.put, key, false)]) { try base.putFile(key, path: path, size: size, local: local, base: object, metadata: metadata) }
    }
    func startUpload(_ key: String, metadata: [String: String]) throws -> String { try base.startUpload(key, metadata: metadata) }
    func uploadPart(_ key: String, uploadId: String, number: Int, data: Data) throws -> String {
        try base.uploadPart(key, uploadId: uploadId, number: number, data: data)
    }
    func completeUpload(_ key: String, uploadId: String, parts: [(Int, String)]) throws -> ObjectMeta {
        try changing([(.put, key, false)]) { try base.completeUpload(key, uploadId: uploadId, parts: parts) }
    }
    func abortUpload(_ key: String, uploadId: String) { base.abortUpload(key, uploadId: uploadId) }
}
