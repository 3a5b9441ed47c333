import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension VFS {
    /// The entries of a directory, `.` and `..` first. Listing keys that cannot be names
    /// (empty, or the directory's own marker) are left out, and so are bucket objects named like
    /// the mount's own files at the top (`.stats`, `.config`: a lookup there finds those).
    public func readdir(_ ino: UInt64) throws -> [DirEntry] {
        var all: [DirEntry] = []
        try readdir(ino) { all += $0 }
        return all
    }

    /// The same, handed to `deliver` as the listing arrives: `.`, `..` and the first page's files,
    /// each further page's files, then the subdirectories — so the kernel can take the first
    /// entries while the next page is on its way.
    public func readdir(_ ino: UInt64, deliver: ([DirEntry]) -> Void) throws {
        let dir = try node(ino)
        guard dir.kind == .directory else { throw VFSError(.notDirectory, "readdir: not a directory") }
        let mark = changeMark()
        let started = clock.now()
        let (known, fresh) = state.withLock { s -> ([String: UInt64], Set<String>) in
            let known = s.children[ino] ?? [:]
            return (known, Set(known.compactMap { name, i in (s.nodes[i]?.validUntil ?? 0) > started ? name : nil }))
        }
        var entries = [DirEntry(name: ".", ino: ino, mode: dir.attrs.mode),
                       DirEntry(name: "..", ino: dir.parent, mode: NodeKind.directory.typeBits)]
        var seen = ino == Self.rootIno ? Set(Self.virtualNames.keys) : []
        var snapshot = ListingSnapshot(files: [], dirs: [], until: 0)
        var seeded = 0
        var prefixes: [String] = []
        var prefixMetadata: [String: [String: String]] = [:]
        // A page at a time: only the entries' decoded attributes are kept, not the pages.
        try store.listPages(prefix: dir.key) { page in
            var headsAhead: [String] = []  // in listing order, the order `ls -l` stats them
            var listed: [ObjectMeta] = []  // entries the listing gave whole: no HEAD needed
            for o in page.objects {
                let name = String(o.key.dropFirst(dir.key.count))
                guard !name.isEmpty, !name.utf8.contains(UInt8(ascii: "/")) else { continue }
                snapshot.files.insert(name)
                guard seen.insert(name).inserted else { continue }
                let whole = o.hasMetadata ? DirEntry.Listed(attrs: PosixAttributes.decode(o.metadata, kind: .file, lastModified: o.lastModified,
                                                                                           defaults: options.defaults),
                                                            size: o.size, etag: o.etag) : nil
                entries.append(DirEntry(name: name, ino: known[name] ?? Self.placeholderIno(o.key), mode: whole?.attrs.kind.typeBits ?? NodeKind.file.typeBits,
                                        listed: whole))
                if fresh.contains(name) { continue }
                // Only as many as the prefetch keeps: the entries themselves carry the rest.
                if o.hasMetadata { if seeded < MetaPrefetch.capacity { listed.append(o); seeded += 1 } } else { headsAhead.append(o.key) }
            }
            prefetch.seed(listed)
            prefetch.prefetch(headsAhead)
            prefixes += page.prefixes
            prefixMetadata.merge(page.prefixMetadata) { _, new in new }
            deliver(entries)
            entries = []
        }
        for p in prefixes {
            let name = String(p.dropFirst(dir.key.count).dropLast())
            guard !name.isEmpty, !name.utf8.contains(UInt8(ascii: "/")) else { continue }
            snapshot.dirs.insert(name)
            let stored = prefixMetadata[p]
            if let stored { snapshot.dirMetadata[name] = stored }
            guard seen.insert(name).inserted else { continue }
            // A directory whose attributes the listing gave is handed to the kernel with them.
            let listed = stored.map { DirEntry.Listed(attrs: directoryNode(name: name, key: p, metadata: $0).attrs, size: 0, etag: nil) }
            entries.append(DirEntry(name: name, ino: known[name] ?? Self.placeholderIno(p), mode: NodeKind.directory.typeBits, listed: listed))
        }
        snapshot.until = trusted(from: clock.now(), learnedSince: mark)
        state.withLock { $0.listings[ino] = snapshot }
        deliver(entries)
    }

    /// Opens a file. Readers remember the object's ETag so a change underneath is noticed;
    /// writers (and `truncate`) get the file's bytes staged locally until they are uploaded.
    /// `owner` is the opening process (thread group id), when known: see `flush`.
    public func open(_ ino: UInt64, write: Bool, truncate: Bool = false, owner: Int32? = nil) throws -> UInt64 {
        if Self.isVirtual(ino) {
            if write { throw VFSError(.readOnly, "\(ino == Self.statsIno ? ".stats" : ".config") is read-only") }
            let snapshot = Data(try virtualContent(ino).utf8)
            return state.withLock { s in
                let fh = s.nextHandle
                s.nextHandle += 1
                s.handles[fh] = Handle(ino: ino, key: "", etag: nil, size: Int64(snapshot.count), writable: false,
                                       holdsStaging: false, snapshot: snapshot)
                return fh
            }
        }
        if write && options.readOnly { throw VFSError(.readOnly, "the mount is read-only") }
        var n = try node(ino)
        guard n.kind != .directory else { throw VFSError(.isDirectory, "open: is a directory") }
        let staged = state.withLock { $0.open[ino] != nil }
        var invalidated = false
        if !staged && n.validUntil <= clock.now() {
            let told = n
            n = try refresh(n)
            // The kernel still has the size it was told before, for its attribute timeout, and
            // clamps reads to it: a reader would get the new object cut at the old size. Dropped
            // here, before the open is answered, so a read past that size asks for the new one.
            if n.size != told.size || n.etag != told.etag {
                kernelInvalidate.withLock { $0 }?(ino)
                invalidated = true
            }
        }
        if write || staged {
            try stage(n, truncate: truncate)
        }
        let node = n
        // Another path may have learned the new version first (a getattr's refresh, or the change
        // feed), so the kernel may still hold the size of the version this inode was last opened
        // at (or the one it was told at a lookup, for a first open): dropped here too, before the
        // open is answered, whenever the ETag is not the one of the last open.
        if !write && !staged && !invalidated, let etag = node.etag, state.withLock({ $0.pageCache[ino] }) != etag {
            kernelInvalidate.withLock { $0 }?(ino)
        }
        let (fh, keeps) = state.withLock { s -> (UInt64, Bool) in
            let fh = s.nextHandle
            s.nextHandle += 1
            let holds = s.open[node.ino] != nil
            if holds { s.open[node.ino]?.handles += 1 }
            var h = Handle(ino: node.ino, key: node.key, etag: node.etag, size: node.size, writable: write, holdsStaging: holds)
            h.owner = owner
            if let etag = node.etag, !write {
                h.keepCache = s.pageCache[node.ino] == etag
                s.pageCache[node.ino] = etag
            } else {
                s.pageCache[node.ino] = nil
            }
            if !holds && node.size > 0 {
                h.readAhead = ReadAhead(key: node.key, etag: node.etag, size: node.size, tuning: options.readAhead,
                                        reads: contents, pool: readPool)
            }
            s.handles[fh] = h
            return (fh, h.keepCache)
        }
        // The kernel drops the inode's pages after this answer: none of another version after it.
        if !keeps { closePages(node.ino) }
        return fh
    }

    /// Up to `size` bytes at `offset`: from the staging file when there is one, else from the
    /// store, where ESTALE means the object changed since it was opened.
    public func read(_ fh: UInt64, offset: Int64, size: Int) throws -> Data {
        guard let h = state.withLock({ $0.handles[fh] }) else { throw VFSError(.invalid, "unknown file handle \(fh)") }
        if let snapshot = h.snapshot {
            let lower = Int(min(offset, Int64(snapshot.count)))
            return snapshot.subdata(in: lower..<min(snapshot.count, lower + size))
        }
        if let staged = state.withLock({ $0.open[h.ino] }) {
            if staged.local != nil { try fill(h.ino, offset..<min(staged.size, offset + Int64(size))) }
            let data = try staged.staging.read(offset: offset, count: Int(max(0, min(Int64(size), staged.size - offset))))
            metrics.fuseRead(data.count, fromCache: true)
            return data
        }
        let end = min(h.size, offset + Int64(size))
        guard offset < end else { return Data() }
        if let ra = h.readAhead, let r = try ra.read(offset: offset, count: size) {
            metrics.readAhead(hit: r.hit)
            metrics.fuseRead(r.data.count, fromCache: r.hit)
            return r.data
        }
        let (data, hit) = try contents.read(key: h.key, etag: h.etag, size: h.size, range: offset..<end)
        metrics.fuseRead(data.count, fromCache: hit)
        return data
    }

    /// How the VFS tells the kernel that an inode's cached attributes are stale (the FUSE bridge
    /// sets it to libfuse's `fuse_lowlevel_notify_inval_inode`; nil when the session ends).
    public func attachKernel(invalidate: (@Sendable (UInt64) -> Void)?) {
        kernelInvalidate.withLock { $0 = invalidate }
    }

    /// Whether the kernel may keep its cached pages of the file for this handle: they were cached
    /// for the ETag the file still has.
    public func keepsCache(_ fh: UInt64) -> Bool { state.withLock { $0.handles[fh]?.keepCache ?? false } }

    /// Last close of a handle: drops its staging file when no handle is left.
    public func release(_ fh: UInt64) {
        guard let h = state.withLock({ $0.handles.removeValue(forKey: fh) }) else { return }
        h.readAhead?.cancel()
        guard h.holdsStaging else { return }
        // The last release stores a new file nobody wrote, and a file whose `close` was left to it.
        let storeNow = state.withLock { s in s.open[h.ino].map { $0.handles == 1 && ($0.emptyCreate || $0.flushDeferred) } ?? false }
        if storeNow {
            do { try upload(h.ino) } catch { options.onError?("release: \(error)") }  // also counted in .stats (uploads failed)
        }
        dropStagingReference(h.ino)
    }

    /// One reference to the inode's staging file goes; the last one closes and removes the file.
    func dropStagingReference(_ ino: UInt64) {
        let toClose = state.withLock { s -> OpenFile? in
            guard var o = s.open[ino] else { return nil }
            o.handles -= 1
            if o.handles > 0 { s.open[ino] = o; return nil }
            s.open[ino] = nil
            return o
        }
        if let o = toClose {
            o.stream?.abort()  // closed without a successful flush: nothing half-uploaded stays behind
            o.staging.remove()
        }
    }

    /// The target of a symlink (its object's body).
    public func readlink(_ ino: UInt64) throws -> String {
        let n = try node(ino)
        guard n.kind == .symlink else { throw VFSError(.invalid, "not a symlink") }
        return String(decoding: try store.read(n.key, range: 0..<n.size, etag: nil), as: UTF8.self)
    }

    /// d_ino for entries the kernel has not looked up yet (the kernel does not use it without `use_ino`).
    static func placeholderIno(_ key: String) -> UInt64 {
        var h: UInt64 = 1469598103934665603
        for b in key.utf8 { h = (h ^ UInt64(b)) &* 1099511628211 }
        return h | (1 << 63)
    }
}
