import Foundation

/// HEADs issued in parallel for the files of a directory that was just listed (or what the
/// listing itself said, when it carried each entry's metadata), so the `lstat`
/// of every entry that follows a `readdir` (`ls -l`, `find -ls`, `du`, `cp -a`) finds its answer
/// ready instead of waiting for one HEAD after another. A lookup of a key whose HEAD is still in
/// flight waits for it rather than sending a second one. Answers are trusted for the metadata TTL.
final class MetaPrefetch: @unchecked Sendable {
    enum Entry {
        case pending
        case done(Result<ObjectMeta, VFSError>, until: Double)
    }

    let store: any ObjectStore
    let pool: WorkerPool
    let clock: any Clock
    let ttl: Double
    /// At most this many keys are remembered; a bigger listing prefetches (or keeps) its first
    /// ones. What a listing carried reaches the kernel with the directory's entries anyway
    /// (readdirplus, `VFS.lookupIfKnown`), so a big directory costs no HEADs for the rest.
    static let capacity = 10_000

    // SAFETY: `entries` is read and written with `cond` locked.
    private let cond = NSCondition()
    private var entries: [String: Entry] = [:]

    init(store: any ObjectStore, pool: WorkerPool, clock: any Clock, ttl: Double) {
        self.store = store
        self.pool = pool
        self.clock = clock
        self.ttl = ttl
    }

    /// Queues a HEAD for each key not already known or in flight.
    func prefetch(_ keys: [String]) {
        let now = clock.now()
        cond.lock()
        defer { cond.unlock() }
        entries = entries.filter { !Self.expired($0.value, now) }
        for key in keys where entries.count < Self.capacity {
            if let e = entries[key], !Self.expired(e, now) { continue }
            entries[key] = .pending
            pool.submit { [self] in
                let result: Result<ObjectMeta, VFSError>
                do { result = .success(try store.head(key)) } catch let e as VFSError { result = .failure(e) } catch {
                    result = .failure(VFSError(.io, "\(error)"))
                }
                cond.lock()
                entries[key] = .done(result, until: clock.now() + ttl)
                cond.broadcast()
                cond.unlock()
            }
        }
    }

    /// Keeps what a listing said of objects whose metadata it carried (`hasMetadata`): their
    /// lookups need no HEAD. A HEAD in flight for one of them is left to finish.
    func seed(_ metas: [ObjectMeta]) {
        let until = clock.now() + ttl
        cond.lock()
        defer { cond.unlock() }
        for meta in metas where entries.count < Self.capacity {
            if case .pending = entries[meta.key] { continue }
            entries[meta.key] = .done(.success(meta), until: until)
        }
    }

    /// The prefetched HEAD of `key` (waiting for it if it is in flight), or nil when there is none.
    /// Taking an answer removes it: a later lookup asks the store again.
    func take(_ key: String) throws -> ObjectMeta? {
        cond.lock()
        defer { cond.unlock() }
        while case .pending = entries[key] { cond.wait() }
        guard let e = entries.removeValue(forKey: key), case .done(let result, let until) = e, until > clock.now() else { return nil }
        return try result.get()
    }

    /// The answer for `key` if one is in and says what the object is; nil when there is none, it
    /// is still in flight (left to `take`), or it is an error (left to a lookup to ask again).
    func takeIfReady(_ key: String) -> ObjectMeta? {
        cond.lock()
        defer { cond.unlock() }
        guard case .done(let result, let until)? = entries[key] else { return nil }
        entries[key] = nil
        guard until > clock.now(), case .success(let meta) = result else { return nil }
        return meta
    }

    /// Forgets what is known of `key` (it was written or deleted through this mount).
    func invalidate(_ key: String) {
        cond.lock()
        if case .done = entries[key] { entries[key] = nil }
        cond.unlock()
    }

    /// Forgets every answer (changes were missed).
    func clear() {
        cond.lock()
        entries = entries.filter { if case .done = $0.value { return false } else { return true } }
        cond.unlock()
    }

    private static func expired(_ e: Entry, _ now: Double) -> Bool {
        if case .done(_, let until) = e { return until <= now }
        return false
    }
}
