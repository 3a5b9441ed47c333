import Foundation
import S3
import Synchronization

/// The filesystem core: inodes over keys of an `ObjectStore`. No libfuse and no curl here; the
/// FUSE adapter calls one method per operation and replies with what comes back (or with the
/// `VFSError`'s errno).
public final class VFS: Sendable {
    public static let rootIno: UInt64 = 1
    /// Virtual files in the root: readable by name, never listed, never uploaded.
    public static let statsIno: UInt64 = 0x7FFF_FFFF_FFFF_FF01
    public static let configIno: UInt64 = 0x7FFF_FFFF_FFFF_FF02
    public static let virtualNames: [String: UInt64] = [".stats": statsIno, ".config": configIno]

    struct Node {
        var ino: UInt64
        var parent: UInt64
        var name: String
        var kind: NodeKind
        /// Files: the object key. Directories: the key prefix ("" or ending in "/").
        var key: String
        var attrs: PosixAttributes
        var size: Int64
        var etag: String?
        var lookups: UInt64
        var validUntil: Double
        /// A directory's attributes came from the store (its marker's metadata), not defaults.
        var attrsStored = false
    }

    struct Handle {
        var ino: UInt64
        var key: String
        var etag: String?
        var size: Int64
        var writable: Bool
        /// Holds a reference on the inode's staging file.
        var holdsStaging: Bool
        /// Contents of a virtual file, taken at open.
        var snapshot: Data? = nil
        /// Sequential prefetch for a handle that reads from the store.
        var readAhead: ReadAhead? = nil
        /// The kernel may keep the pages it cached for this inode (same ETag as then).
        var keepCache = false
        /// The process that opened it (its thread group id), when the kernel said.
        var owner: Int32? = nil
    }

    /// A file with open handles whose bytes are held locally (being written, or unlinked while
    /// open). Uploaded on flush/fsync when dirty; dropped when the last handle closes.
    struct OpenFile {
        var staging: Staging
        var size: Int64
        var dirty: Bool
        /// Counts changes (bytes, size, attributes): an upload marks the file clean only when
        /// none came in while it ran.
        var changes: UInt64 = 0
        var handles: Int
        var unlinked: Bool
        /// Created by this mount and neither written nor stored yet: a `close` of one of several
        /// descriptors (a shell's `> file` dups and closes before writing) does not store it;
        /// `fsync`, a later `close` with data, or the last release does.
        var emptyCreate = false
        /// The ranges of the file the staging file holds, when not all of them: a big file opened
        /// for writing is not downloaded first; the other bytes are still those of `base`.
        var local: ByteRanges? = nil
        var base: BaseObject? = nil
        /// The multipart upload running while the file is written (see `UploadStream`).
        var stream: UploadStream? = nil
        var streamStarting = false
        /// `utimens` set the mtime after the last write: the upload keeps it instead of "now".
        var mtimeSet = false
        /// A `close` by a process that did not open the file was not an upload (see `flush`):
        /// the last release stores the file if nothing did meanwhile.
        var flushDeferred = false
        /// An upload (or `materialize`) found the object replaced by another client under bytes
        /// this file still needed from it: its changes can never be stored. Every later `close`
        /// says so (EIO); a rename moves, an unlink removes, the other client's version.
        var conflicted = false

        /// Something the next upload must store.
        mutating func changed() {
            dirty = true
            changes &+= 1
        }
    }

    struct State {
        var nodes: [UInt64: Node] = [:]
        var children: [UInt64: [String: UInt64]] = [:]
        var handles: [UInt64: Handle] = [:]
        var open: [UInt64: OpenFile] = [:]
        /// Directory listings trusted for the metadata TTL (see `ListingSnapshot`).
        var listings: [UInt64: ListingSnapshot] = [:]
        /// The ETag whose bytes the kernel may hold in its page cache for an inode: an open that
        /// finds the same ETag keeps those pages (`keep_cache`), any other drops them.
        var pageCache: [UInt64: String] = [:]
        /// Directories too big to snapshot, until when.
        var largeDirs: [UInt64: Double] = [:]
        var nextIno: UInt64 = 2
        var nextHandle: UInt64 = 1
    }

    public let store: any ObjectStore
    public let options: VFSOptions
    public let metrics: MountMetrics
    let clock: any Clock
    let state: Mutex<State>
    /// Facts from the kernel's INIT, for `.config`.
    let kernel = Mutex<[String: String]>([:])
    /// Tells the kernel to drop the attributes it caches for an inode (set by the FUSE bridge
    /// once its session exists; the core never calls libfuse itself).
    let kernelInvalidate = Mutex<(@Sendable (UInt64) -> Void)?>(nil)
    /// Tells the kernel to drop an inode's attributes and cached pages, and a name's entry in a
    /// directory (after a change another client made, reported by the change feed).
    let kernelNotify = Mutex<KernelNotify?>(nil)
    /// Whether a change feed is up, and how many changes it brought (see `VFS+Changes`).
    let feed = Mutex(FeedState())
    /// This mount's changes whose echo from the feed has not come yet.
    let ownChanges = OwnChanges()
    /// When the mount started (the mtime of directories nothing else dates).
    let mountedAt: Double
    /// Serialises filling a partly staged file from its base object with writes to it, so a
    /// fetched range never lands over bytes written meanwhile.
    let stagingLock = NSLock()
    /// What the mount's small open files may hold in memory (see `Staging`).
    let stagingMemory = StagingMemory()
    /// A file's uploads, one at a time.
    let uploadGate = InodeGate()
    /// Held while pages are handed to the kernel's page cache (see `VFS+PageCache`).
    let pageGate = InodeGate()
    /// Files above this size are staged partly (see `OpenFile.local`).
    static let partialStagingThreshold: Int64 = 8 << 20
    /// The largest file: S3's largest object (5 TiB); past it, `EFBIG`.
    static let maxFileSize: Int64 = 5 << 40
    /// Threads for read-ahead GETs.
    let readPool: WorkerPool
    /// Threads for the parts of uploads that run while files are written.
    let uploadPool: WorkerPool
    /// Part size of those uploads; a file starts uploading once it is two parts long.
    static let streamPartSize: Int64 = 8 << 20
    /// Threads and answers of the HEADs sent ahead after a listing.
    let metaPool: WorkerPool
    let prefetch: MetaPrefetch
    /// Reads of file contents, through the block cache when there is one.
    public let contents: CachedReads

    public init(store: any ObjectStore, options: VFSOptions, clock: any Clock = SystemClock(), metrics: MountMetrics = MountMetrics()) {
        self.metrics = metrics
        self.store = OwnChangesStore(base: store, own: ownChanges, clock: clock)
        self.options = options
        self.clock = clock
        self.mountedAt = clock.now().rounded(.down)
        self.readPool = WorkerPool(threads: options.readAhead.maxWindow, name: "gt-readahead")
        self.metaPool = WorkerPool(threads: 8, name: "gt-head")
        self.uploadPool = WorkerPool(threads: S3ObjectStore.uploadWidth, name: "gt-upload")
        self.prefetch = MetaPrefetch(store: store, pool: metaPool, clock: clock, ttl: options.metadataTTL)
        self.contents = CachedReads(store: store, cache: options.blockCache, fetchSize: options.cacheFetchSize, pool: readPool)
        var s = State()
        let rootAttrs = PosixAttributes(mode: NodeKind.directory.typeBits | options.defaults.directoryMode,
                                        uid: options.defaults.uid, gid: options.defaults.gid, mtime: clock.now().rounded(.down))
        s.nodes[Self.rootIno] = Node(ino: Self.rootIno, parent: Self.rootIno, name: "", kind: .directory, key: options.prefix,
                                     attrs: rootAttrs, size: 0, etag: nil, lookups: 1, validUntil: .infinity)
        state = Mutex(s)
    }

    deinit {
        readPool.shutdown()
        metaPool.shutdown()
        uploadPool.shutdown()
        contents.close()
    }

    // MARK: lookup / forget / getattr

    public func lookup(parent: UInt64, name: String) throws -> EntryReply {
        if parent == Self.rootIno, let v = Self.virtualNames[name] {
            return EntryReply(attr: try virtualAttr(v), ttl: 0)
        }
        let dir = try lookupDirectory(parent, name)
        let now = clock.now()
        if let cached = counted(parent: parent, name: name, now: now) {
            return EntryReply(attr: attr(pinned(cached, reading: readSize(cached.ino))), ttl: options.metadataTTL)
        }
        let mark = changeMark()
        let resolved = try find(parent: parent, dirKey: dir.key, name: name)
        let installed = install(resolved, parent: parent, name: name, now: now, mark: mark)
        return EntryReply(attr: attr(pinned(installed, reading: readSize(installed.ino))), ttl: options.metadataTTL)
    }

    /// `lookup`'s answer for an entry of a directory being read, when it needs nothing from the
    /// store — a cached inode, a file whose metadata the listing carried or whose HEAD is in, a
    /// directory — else nil (never waiting for a HEAD in flight). For readdirplus: the kernel
    /// gets the entries that are known with their attributes, as the listing gave them (however
    /// long reading a big directory takes), and looks the others up as usual.
    public func lookupIfKnown(parent: UInt64, entry: DirEntry) -> EntryReply? {
        let name = entry.name
        guard parent != Self.rootIno || Self.virtualNames[name] == nil, let dir = try? lookupDirectory(parent, name) else { return nil }
        let now = clock.now()
        if let cached = counted(parent: parent, name: name, now: now) {
            return EntryReply(attr: attr(pinned(cached, reading: readSize(cached.ino))), ttl: options.metadataTTL)
        }
        let resolved: Node
        if let l = entry.listed, l.attrs.kind == .directory {
            // A directory is listed with attributes only when the store gave them.
            var d = directoryNode(name: name, key: dir.key + name + "/")
            (d.attrs, d.attrsStored) = (l.attrs, true)
            resolved = d
        } else if let l = entry.listed {
            prefetch.invalidate(dir.key + name)  // answered here; a later lookup asks again
            resolved = Node(ino: 0, parent: 0, name: name, kind: l.attrs.kind, key: dir.key + name, attrs: l.attrs, size: l.size,
                            etag: l.etag, lookups: 0, validUntil: 0)
        } else if entry.mode & UInt32(S_IFMT) == NodeKind.directory.typeBits {
            resolved = directoryNode(name: name, key: dir.key + name + "/")
        } else if let meta = prefetch.takeIfReady(dir.key + name) {
            resolved = fileNode(name: name, meta: meta)
        } else {
            return nil
        }
        // What a listing read some time ago said: trusted for the metadata TTL only.
        let installed = install(resolved, parent: parent, name: name, now: now, mark: nil)
        return EntryReply(attr: attr(pinned(installed, reading: readSize(installed.ino))), ttl: options.metadataTTL)
    }

    /// The directory a lookup of `name` in `parent` looks in, once the name could be there.
    private func lookupDirectory(_ parent: UInt64, _ name: String) throws -> Node {
        try Self.checkName(name)
        let dir = try node(parent)
        guard dir.kind == .directory else { throw VFSError(.notDirectory, "lookup \(name): parent is not a directory") }
        guard Self.storable(name, in: dir) else { throw VFSError(.notFound, "\(name.debugDescription): no such file or directory") }
        return dir
    }

    /// The valid cached inode of `name` in `parent`, its lookup count raised by one.
    private func counted(parent: UInt64, name: String, now: Double) -> Node? {
        state.withLock { s -> Node? in
            guard let ino = s.children[parent]?[name], var n = s.nodes[ino], n.validUntil > now else { return nil }
            n.lookups += 1
            s.nodes[ino] = n
            return n
        }
    }

    /// Keeps what a lookup resolved as the inode of `name` in `parent` (the same inode number as
    /// before, if it had one), its lookup count raised by one.
    /// `mark`: `changeMark()` from before the store was asked (nil: the answer may be older).
    private func install(_ resolved: Node, parent: UInt64, name: String, now: Double, mark: UInt64?) -> Node {
        let until = trusted(from: now, learnedSince: mark)
        return state.withLock { s -> Node in
            var n = resolved
            n.parent = parent
            n.validUntil = until
            if let ino = s.children[parent]?[name], let old = s.nodes[ino] {
                n.ino = ino
                n.lookups = old.lookups + 1
            } else {
                n.ino = s.nextIno
                s.nextIno += 1
                n.lookups = 1
                s.children[parent, default: [:]][name] = n.ino
            }
            s.nodes[n.ino] = n
            return n
        }
    }

    /// The kernel dropped `count` references; an inode nobody references is forgotten.
    public func forget(_ ino: UInt64, count: UInt64) {
        guard ino != Self.rootIno, !Self.isVirtual(ino) else { return }
        state.withLock { s in
            guard var n = s.nodes[ino] else { return }
            n.lookups = n.lookups > count ? n.lookups - count : 0
            if n.lookups == 0 {
                s.nodes[ino] = nil
                s.pageCache[ino] = nil
                if s.children[n.parent]?[n.name] == ino { s.children[n.parent]?[n.name] = nil }
            } else {
                s.nodes[ino] = n
            }
        }
    }

    public func getattr(_ ino: UInt64) throws -> FileAttr {
        if Self.isVirtual(ino) { return try virtualAttr(ino) }
        var n = try node(ino)
        if let staged = state.withLock({ $0.open[ino] }) {
            n.size = staged.size  // what this mount has written is what the file is
            var a = attr(n)
            if staged.unlinked { a.nlink = 0 }  // removed while open (fstat of an unlinked file)
            return a
        }
        let reading = readSize(ino)
        if reading == nil && n.ino != Self.rootIno && n.validUntil <= clock.now() {
            n = try refresh(n)
        }
        return attr(pinned(n, reading: reading))
    }

    /// The size of the version a file is open for reading at (its latest open's), if it is.
    func readSize(_ ino: UInt64) -> Int64? {
        state.withLock { s in
            var latest: (fh: UInt64, size: Int64)?
            for (fh, h) in s.handles where h.ino == ino && !h.writable && h.snapshot == nil && fh > (latest?.fh ?? 0) {
                latest = (fh, h.size)
            }
            return latest?.size
        }
    }

    /// `n` as the kernel is told about it: a file open for reading keeps the size of the version
    /// it was opened at until it is closed (close-to-open, as NFS): the kernel clamps reads to the
    /// size it was last told, so a newer version's size, learned meanwhile, would cut the bytes
    /// the reader gets. The next open learns the new version and drops the kernel's size.
    /// `reading`: `readSize(n.ino)`.
    func pinned(_ n: Node, reading: Int64?) -> Node {
        guard n.kind != .directory, let size = reading else { return n }
        var p = n
        p.size = size
        return p
    }

    /// How many inodes the core holds (for `.stats` and leak tests).
    public var inodeCount: Int { state.withLock { $0.nodes.count } }

    // MARK: helpers

    func node(_ ino: UInt64) throws -> Node {
        guard let n = state.withLock({ $0.nodes[ino] }) else { throw VFSError(.stale, "inode \(ino) is unknown") }
        return n
    }

    /// Re-reads a node's attributes from the store.
    func refresh(_ n: Node) throws -> Node {
        let mark = changeMark()
        let fresh = try resolve(dirKey: String(n.key.dropLast(n.kind == .directory ? n.name.utf8.count + 1 : n.name.utf8.count)), name: n.name)
        return state.withLock { s -> Node in
            guard var current = s.nodes[n.ino] else { return n }
            // A directory that is still one keeps its attributes unless the store gave some; its
            // times stay the ones this mount's own changes to its entries set, when later.
            if !(fresh.kind == .directory && current.kind == .directory) {
                current.attrs = fresh.attrs
            } else if fresh.attrsStored {
                let (mtime, ctime) = (max(current.attrs.mtime, fresh.attrs.mtime), max(current.attrs.ctime, fresh.attrs.ctime))
                current.attrs = fresh.attrs
                (current.attrs.mtime, current.attrs.ctime) = (mtime, ctime)
                current.attrsStored = true
            }
            current.kind = fresh.kind
            current.size = fresh.size
            current.etag = fresh.etag
            current.key = fresh.key
            current.validUntil = trusted(from: clock.now(), learnedSince: mark)
            s.nodes[n.ino] = current
            return current
        }
    }

    /// What `name` under the prefix `dirKey` is now: an object (file or symlink) or a prefix (directory).
    func resolve(dirKey: String, name: String) throws -> Node {
        let key = dirKey + name
        do {
            return fileNode(name: name, meta: try store.head(key))
        } catch let e as VFSError where e.code == .notFound {
            return try directoryBelow(name: name, key: key)
        }
    }

    /// `name` as a directory: a marker or any key below `key/` (one LIST of one key), else `.notFound`.
    func directoryBelow(name: String, key: String) throws -> Node {
        let listing = try store.listFirst(prefix: key + "/", limit: 1).listing
        guard !listing.objects.isEmpty || !listing.prefixes.isEmpty else {
            throw VFSError(.notFound, "\(key): no such file or directory")
        }
        // The marker lists first, with its metadata where the listing carries them.
        let marker = listing.objects.first { $0.key == key + "/" && $0.hasMetadata }
        return directoryNode(name: name, key: key + "/", metadata: marker?.metadata)
    }

    func attr(_ n: Node) -> FileAttr {
        FileAttr(ino: n.ino, size: n.kind == .directory ? 4096 : n.size, mode: n.attrs.mode, uid: n.attrs.uid, gid: n.attrs.gid,
                 mtime: n.attrs.mtime, nlink: n.kind == .directory ? 2 : 1, rdev: n.attrs.rdev,
                 atime: n.attrs.atime, ctime: n.attrs.ctime)
    }
}
