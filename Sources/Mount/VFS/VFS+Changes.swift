import Foundation
import S3

/// What the FUSE bridge does for the core when another client changed something the kernel caches.
public struct KernelNotify: Sendable {
    /// Drop the inode's attributes and every page it caches.
    public var inode: @Sendable (UInt64) -> Void
    /// Drop the entry (or the negative entry) `name` of directory `parent`.
    public var entry: @Sendable (_ parent: UInt64, _ name: String) -> Void
    /// Put `bytes` in the inode's page cache at `offset` (never past the size the kernel has).
    public var store: @Sendable (_ ino: UInt64, _ offset: Int64, _ bytes: UnsafeRawBufferPointer) -> Void

    public init(inode: @escaping @Sendable (UInt64) -> Void, entry: @escaping @Sendable (UInt64, String) -> Void,
                store: @escaping @Sendable (UInt64, Int64, UnsafeRawBufferPointer) -> Void = { _, _, _ in }) {
        self.inode = inode
        self.entry = entry
        self.store = store
    }
}

/// One change of one object of the mounted bucket, as the daemon's change feed reports it.
public struct ObjectChange: Sendable, Equatable {
    public enum Op: String, Sendable { case put, delete }
    public var op: Op
    /// The key; a directory (prefix) ends in "/".
    public var key: String
    /// Puts of objects: the new version's ETag (unquoted), size, S3 date and user metadata.
    public var etag: String?
    public var size: Int64?
    public var mtime: Double?
    public var metadata: [String: String]?

    public init(op: Op, key: String, etag: String? = nil, size: Int64? = nil, mtime: Double? = nil, metadata: [String: String]? = nil) {
        self.op = op
        self.key = key
        self.etag = etag
        self.size = size
        self.mtime = mtime
        self.metadata = metadata
    }
}

/// Whether the change feed is up, and how many changes it has brought.
struct FeedState {
    /// Until when the feed is known to be up (renewed by every line); 0: it is not.
    var until: Double = 0
    /// Counts changes applied, resets and losses: what was learned from the store while this
    /// moved may be older than a change, so it gets the metadata TTL only.
    var changes: UInt64 = 0
}

extension VFS {
    /// When what this mount itself did at `now` (its own uploads, creates) stops being trusted:
    /// after the metadata TTL, or the longer `followedTTL` while a change feed is up. A TTL of 0
    /// (always ask) stays 0.
    func trusted(from now: Double) -> Double { trusted(from: now, learnedSince: changeMark()) }

    /// The same for what the store answered to a request sent when `changeMark()` was `mark`
    /// (nil: at some unknown time): the longer TTL only when no change came in meanwhile, so an
    /// answer that crossed a change is never trusted past the metadata TTL.
    func trusted(from now: Double, learnedSince mark: UInt64?) -> Double {
        let (until, changes) = feed.withLock { ($0.until, $0.changes) }
        let up = options.metadataTTL > 0 && until > now && mark == changes
        return now + (up ? options.followedTTL : options.metadataTTL)
    }

    /// The feed's change count, to take before asking the store (see `trusted(from:learnedSince:)`).
    func changeMark() -> UInt64 { feed.withLock { $0.changes } }

    public func attachKernel(notify: KernelNotify?) {
        kernelNotify.withLock { $0 = notify }
        guard notify != nil else { return contents.attachFilled(nil) }
        let filled: CachedReads.Filled = { [weak self] key, etag, offset, bytes in
            self?.offerPages(key: key, etag: etag, offset: offset, bytes: bytes)
        }
        contents.attachFilled(filled)
    }

    /// The feed is up (a line came) and will be for `seconds` unless another line says so again.
    public func feedAlive(for seconds: Double) {
        let now = clock.now()
        feed.withLock { $0.until = now + seconds }
        ownChanges.following(true)
    }

    /// The feed is down: nothing is trusted longer than the metadata TTL from now.
    public func feedLost() {
        let now = clock.now()
        feed.withLock { f in
            f.until = 0
            f.changes &+= 1
        }
        ownChanges.following(false)
        let cap = now + options.metadataTTL
        state.withLock { s in
            for (ino, n) in s.nodes where n.validUntil > cap && ino != Self.rootIno { s.nodes[ino]!.validUntil = cap }
            for (ino, l) in s.listings where l.until > cap { s.listings[ino]!.until = cap }
        }
    }

    /// Changes were missed (the feed said `reset`): nothing cached is trusted, and the kernel
    /// drops what it holds of every known inode and name.
    public func revalidateAll() {
        feed.withLock { $0.changes &+= 1 }
        let (inodes, names) = state.withLock { s -> ([UInt64], [(UInt64, String)]) in
            for ino in s.nodes.keys where ino != Self.rootIno { s.nodes[ino]!.validUntil = 0 }
            s.listings = [:]
            s.pageCache = [:]  // any object may have changed
            return (Array(s.nodes.keys), s.children.flatMap { parent, names in names.keys.map { (parent, $0) } })
        }
        prefetch.clear()
        metrics.feedReset()
        guard let k = kernelNotify.withLock({ $0 }) else { return }
        for (parent, name) in names { k.entry(parent, name) }
        for ino in inodes where ino != Self.rootIno {
            closePages(ino)
            k.inode(ino)
        }
    }

    /// Keeps the mount true to a change another client (or this mount) made: the new version's
    /// attributes replace the cached ones (no HEAD needed), a deleted name is forgotten, the
    /// directory's snapshot gains or loses the name, and the kernel drops what it cached of
    /// them. A change that matches what the mount already has (its own upload) changes nothing;
    /// a file open with local changes keeps them (its upload comes later and wins).
    public func applyChange(_ c: ObjectChange) {
        guard c.key.hasPrefix(options.prefix) else { return }
        metrics.changeApplied()
        feed.withLock { $0.changes &+= 1 }
        prefetch.invalidate(c.key.hasSuffix("/") ? String(c.key.dropLast()) : c.key)
        let relative = c.key.dropFirst(options.prefix.count)
        let isDirectory = relative.hasSuffix("/")
        let parts = relative.split(separator: "/", omittingEmptySubsequences: false).map(String.init).dropLast(isDirectory ? 1 : 0)
        guard let name = parts.last, !name.isEmpty else { return }
        let now = clock.now()
        let echo = ownChanges.echo(c.op, c.key, now: now)
        if echo == .own { return }  // applied when this mount made it
        enum Tell { case nothing, entry(UInt64), inode(UInt64), both(UInt64, UInt64) }
        let tell = state.withLock { s -> Tell in
            var parent = Self.rootIno
            for p in parts.dropLast() {
                guard let next = s.children[parent]?[p] else { return .nothing }  // nothing cached below it
                parent = next
            }
            let ino = s.children[parent]?[name]
            if let ino, s.open[ino] != nil { return .nothing }
            if echo == .crossed {
                // Which of the changes came last is not known here: the store is asked again.
                s.listings[parent] = nil
                guard let ino, s.nodes[ino] != nil else { return .entry(parent) }
                s.nodes[ino]!.validUntil = 0
                s.pageCache[ino] = nil
                return .both(parent, ino)
            }
            switch (c.op, isDirectory) {
            case (.delete, _):
                Self.forget(&s, parent: parent, name: name)
                return .entry(parent)
            case (.put, true):
                Self.note(&s, parent: parent, name: name, kind: .directory)
                return ino == nil ? .entry(parent) : .nothing
            case (.put, false):
                Self.note(&s, parent: parent, name: name, kind: .file)
                guard let ino, var n = s.nodes[ino] else { return .entry(parent) }
                guard let etag = c.etag, let size = c.size else {
                    n.validUntil = 0  // not enough to know the new attributes: ask at the next use
                    s.nodes[ino] = n
                    s.pageCache[ino] = nil
                    return .inode(ino)
                }
                let meta = ObjectMeta(key: n.key, size: size, etag: "\"" + etag + "\"",
                                      lastModified: c.mtime.map { Date(timeIntervalSince1970: $0) }, metadata: c.metadata ?? [:])
                var fresh = fileNode(name: name, meta: meta)
                if n.etag.map(ETag.unquoted) == etag && n.size == size && n.attrs == fresh.attrs && n.kind == fresh.kind {
                    return .nothing  // what the mount has (its own upload)
                }
                guard n.etag.map(ETag.unquoted) == etag && n.size == size else {
                    // New contents: asked again at the next use, whose `open` makes the kernel drop
                    // the size it holds before answering (as without the feed) — installing the new
                    // size here would race a concurrent open, which could then read the new bytes
                    // cut at the size the kernel still had.
                    n.validUntil = 0
                    s.nodes[ino] = n
                    s.pageCache[ino] = nil
                    return .inode(ino)
                }
                // Same bytes, new attributes (a chmod by copy): taken as they are.
                fresh.ino = ino
                fresh.parent = parent
                fresh.lookups = n.lookups
                fresh.validUntil = trusted(from: now)
                s.nodes[ino] = fresh
                return .inode(ino)
            }
        }
        guard let k = kernelNotify.withLock({ $0 }) else { return }
        switch tell {
        case .nothing: break
        case let .entry(parent): k.entry(parent, name)
        case let .inode(ino):
            closePages(ino)
            k.inode(ino)
        case let .both(parent, ino):
            k.entry(parent, name)
            closePages(ino)
            k.inode(ino)
        }
    }
}
