import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension VFS {
    /// Makes sure the inode has a staging file: empty for a new or truncated file, else a copy of
    /// the object (so a write in the middle of an existing file keeps the rest).
    func stage(_ n: Node, truncate: Bool) throws {
        if state.withLock({ $0.open[n.ino] != nil }) {
            if truncate { try self.truncate(n.ino, to: 0) }
            return
        }
        let path = StagingIO.newPath(in: options.cacheDir, ino: n.ino)
        let partial = !truncate && n.size > Self.partialStagingThreshold
        let staging = partial ? try Staging(file: path, memory: stagingMemory) : Staging(path: path, memory: stagingMemory)
        var size: Int64 = 0
        do {
            if partial {
                try staging.truncate(n.size)
                size = n.size
            } else if !truncate && n.size > 0 {
                var offset: Int64 = 0
                let chunk: Int64 = 8 << 20
                while offset < n.size {
                    let data = try store.read(n.key, range: offset..<min(n.size, offset + chunk), etag: n.etag)
                    try staging.write(data, offset: offset)
                    offset += Int64(data.count)
                    if data.isEmpty { break }
                }
                size = offset
            }
        } catch {
            staging.remove()
            throw error
        }
        let raced = state.withLock { s -> Bool in
            if s.open[n.ino] != nil { return true }
            var o = OpenFile(staging: staging, size: size, dirty: truncate && n.size > 0, handles: 0, unlinked: false)
            if partial {
                o.local = ByteRanges()
                o.base = BaseObject(key: n.key, etag: n.etag, size: n.size)
            }
            s.open[n.ino] = o
            return false
        }
        if raced { staging.remove() }
        closePages(n.ino)  // the file is local now: no more pages of the object go to the kernel
    }

    public func write(_ fh: UInt64, offset: Int64, data: Data) throws -> Int {
        guard let h = state.withLock({ $0.handles[fh] }), h.writable else { throw VFSError(.invalid, "handle \(fh) is not open for writing") }
        guard offset + Int64(data.count) <= Self.maxFileSize else {
            throw VFSError(.fileTooLarge, "write past \(Self.maxFileSize) bytes: an S3 object holds no more")
        }
        guard let o = state.withLock({ $0.open[h.ino] }) else { throw VFSError(.io, "no staging file for inode \(h.ino)") }
        stagingLock.lock()
        defer { stagingLock.unlock() }
        try o.staging.write(data, offset: offset)
        metrics.fuseWritten(data.count)
        state.withLock { s in
            guard var o = s.open[h.ino] else { return }
            let end = offset + Int64(data.count)
            if o.local != nil {
                if end > o.size { o.local!.insert(o.size..<end) }  // a hole beyond the old end reads as zeros
                o.local!.insert(offset..<end)
            }
            o.size = max(o.size, end)
            o.changed()
            o.emptyCreate = false
            o.mtimeSet = false
            s.open[h.ino] = o
        }
        streamWrite(h.ino, offset..<offset + Int64(data.count))
        return data.count
    }

    /// flush/fsync: uploads a dirty file. When this returns, other S3 clients see the bytes;
    /// when the upload fails, the error reaches `close`/`fsync` (EIO), and the file stays dirty.
    ///
    /// The kernel flushes at every `close` of a descriptor, also of one a child process inherited
    /// (every `fork`/`posix_spawn` of a process with the file open makes one), in the middle of the
    /// writer's writes. Such a `close` (`caller` is not the opening process, which is still alive)
    /// uploads nothing: the file is stored at its opener's `close`, or at the last release.
    public func flush(_ fh: UInt64, sync: Bool = false, caller: Int32? = nil) throws {
        guard let h = state.withLock({ $0.handles[fh] }) else { return }
        if !sync && state.withLock({ $0.open[h.ino]?.emptyCreate == true }) { return }
        if !sync, let owner = h.owner, let caller, caller != owner, options.processIsAlive(owner) {
            state.withLock { $0.open[h.ino]?.flushDeferred = true }
            return
        }
        try upload(h.ino)
    }

    /// One upload of a file at a time (see `InodeGate`); it stores the file as it is when the
    /// upload starts, and leaves it dirty when it changed meanwhile.
    func upload(_ ino: UInt64) throws {
        try uploadGate.withExclusive(ino) { try uploadNow(ino) }
    }

    /// The upload itself; the caller holds the inode's gate.
    func uploadNow(_ ino: UInt64) throws {
        guard let o = state.withLock({ $0.open[ino] }), o.dirty, !o.unlinked else { return }
        if o.conflicted {
            throw VFSError(.io, "the changes to \(try node(ino).key) were lost: another client replaced the object they were made to")
        }
        let writesAtStart = o.staging.writeCount
        let n = try node(ino)
        var attrs = n.attrs
        let now = clock.now().rounded(.down)  // whole seconds, as stored; one reading for both
        if !o.mtimeSet { attrs.mtime = now }
        attrs.ctime = now
        let meta: ObjectMeta
        do {
            if let stream = o.stream {
                do {
                    let completed = try store.completeUpload(n.key, uploadId: stream.uploadId, parts: try stream.finish(size: o.size))
                    // Seen when the engine restarted mid-upload: a completion that left a part out.
                    guard completed.size == o.size else {
                        throw VFSError(.io, "the completed upload is \(completed.size) bytes, not \(o.size)")
                    }
                    meta = completed
                    state.withLock { $0.open[ino]?.stream = nil }
                } catch {
                    // The streamed upload is lost (the engine may have dropped it, or a retried
                    // completion found it already done): store the file in one go instead.
                    cancelStream(ino)
                    options.onError?("streamed upload of \(n.key) failed (\(error)); storing the file in one go")
                    meta = try putWhole(o, key: n.key, metadata: attrs.encode())
                }
            } else {
                meta = try putWhole(o, key: n.key, metadata: attrs.encode())
            }
            // Never acknowledge a torn object: what the store holds now is the whole file.
            guard meta.size == o.size else {
                throw VFSError(.io, "upload of \(n.key) stored \(meta.size) of \(o.size) bytes")
            }
        } catch {
            metrics.uploadFailed()
            if (error as? VFSError)?.code == .stale { state.withLock { $0.open[ino]?.conflicted = true } }
            throw Self.uploadError(error, key: n.key)
        }
        prefetch.invalidate(n.key)
        let unchanged = state.withLock { s -> Bool in
            let unchanged = s.open[ino]?.changes == o.changes
            if unchanged {
                s.open[ino]?.dirty = false
                s.open[ino]?.flushDeferred = false
            }
            s.open[ino]?.emptyCreate = false
            if s.open[ino]?.base != nil { s.open[ino]?.base = BaseObject(key: n.key, etag: meta.etag, size: meta.size) }
            guard var node = s.nodes[ino] else { return unchanged }
            node.size = meta.size
            node.etag = meta.etag
            // Attributes changed during the upload (a chown) are newer than the ones it stored,
            // and the next upload stores them: they stay.
            if unchanged { node.attrs = attrs }
            // Writes went through the page cache, so its pages are the bytes just stored.
            if unchanged, let etag = meta.etag { s.pageCache[ino] = etag }
            node.validUntil = trusted(from: clock.now())
            s.nodes[ino] = node
            for (fh, var hd) in s.handles where hd.ino == ino {
                hd.etag = meta.etag
                hd.size = meta.size
                s.handles[fh] = hd
            }
            return unchanged
        }
        if unchanged, o.local == nil, let etag = meta.etag, let snapshot = o.staging.snapshot(afterWrites: writesAtStart) {
            contents.keepUploaded(key: n.key, etag: etag, size: meta.size, readBlock: snapshot)
        }
    }

    /// The file's first `o.size` bytes in one PUT (multipart when large): from memory or the
    /// staging file, and from the base object where a partly staged file has not been written.
    private func putWhole(_ o: OpenFile, key: String, metadata: [String: String]) throws -> ObjectMeta {
        if o.local == nil, let bytes = o.staging.inMemory, Int64(bytes.count) == o.size {
            return try store.put(key, data: bytes, metadata: metadata)
        }
        _ = try o.staging.file()
        let local = o.local ?? ByteRanges([0..<o.size])
        let base = o.base ?? BaseObject(key: key, etag: nil, size: 0)
        return try store.putFile(key, path: o.staging.path, size: o.size, local: local, base: base, metadata: metadata)
    }

    /// What `close`/`fsync` report for a failed upload: `EIO`, unless the cause is one the
    /// caller can act on (no space or quota, no permission, a read-only store). A 404 from the
    /// store (say, an upload that vanished) must not read as "no such file" for a file just written.
    static func uploadError(_ error: any Error, key: String) -> VFSError {
        guard let e = error as? VFSError else { return VFSError(.io, "upload of \(key) failed: \(error)") }
        switch e.code {
        case .noSpace, .accessDenied, .readOnly, .io: return e
        default: return VFSError(.io, "upload of \(key) failed: \(e.message)", cause: e.cause)
        }
    }

    /// Creates and opens a new empty file; it exists in the store after the first flush.
    public func create(parent: UInt64, name: String, mode: UInt32, uid: UInt32, gid: UInt32, umask: UInt32 = 0,
                       owner: Int32? = nil) throws -> (EntryReply, UInt64) {
        if options.readOnly { throw VFSError(.readOnly, "the mount is read-only") }
        try Self.checkName(name)
        let dir = try node(parent)
        guard dir.kind == .directory else { throw VFSError(.notDirectory, "create \(name): parent is not a directory") }
        try Self.checkNewName(name, in: dir)
        let made = newNode(in: dir, mode: mode, umask: umask, directory: false)
        let attrs = PosixAttributes(mode: NodeKind.file.typeBits | made.permissions, uid: uid, gid: gid, mtime: clock.now().rounded(.down), xattrs: made.xattrs)
        let n = insert(parent: parent, Node(ino: 0, parent: parent, name: name, kind: .file, key: dir.key + name, attrs: attrs,
                                            size: 0, etag: nil, lookups: 1, validUntil: trusted(from: clock.now())))
        try stage(n, truncate: true)
        state.withLock { s in
            s.open[n.ino]?.changed()
            s.open[n.ino]?.emptyCreate = true
        }
        let fh = try open(n.ino, write: true, owner: owner)
        entriesChanged(parent)
        return (EntryReply(attr: attr(n), ttl: options.metadataTTL), fh)
    }

    /// Adds (or replaces) the child `name` of `parent` and returns it with its inode number.
    func insert(parent: UInt64, _ node: Node) -> Node {
        state.withLock { s -> Node in
            var n = node
            Self.note(&s, parent: parent, name: n.name, kind: n.kind)
            if let ino = s.children[parent]?[n.name], let old = s.nodes[ino] {
                n.ino = ino
                n.lookups = old.lookups + n.lookups
            } else {
                n.ino = s.nextIno
                s.nextIno += 1
                s.children[parent, default: [:]][n.name] = n.ino
            }
            s.nodes[n.ino] = n
            return n
        }
    }

    /// Changes the size of a file: through its staging file when open, else staged, cut and uploaded
    /// now. An open file's new size is stored at its next flush, or now with `storeNow`.
    public func truncate(_ ino: UInt64, to size: Int64, storeNow: Bool = false) throws {
        if options.readOnly { throw VFSError(.readOnly, "the mount is read-only") }
        let n = try node(ino)
        guard n.kind == .file else { throw VFSError(.isDirectory, "truncate: not a regular file") }
        guard size <= Self.maxFileSize else {
            throw VFSError(.fileTooLarge, "truncate to \(size) bytes: an S3 object holds at most \(Self.maxFileSize)")
        }
        // Held until stored, also when the file is open: the release of a file just created (it
        // arrives after `close` returned) may meanwhile drop the staging file, and this
        // truncate's upload would then find nothing to store.
        let wasOpen = state.withLock { s -> Bool in
            guard s.open[ino] != nil else { return false }
            s.open[ino]?.handles += 1
            return true
        }
        if !wasOpen {
            try stage(n, truncate: size == 0)
            state.withLock { $0.open[ino]?.handles += 1 }
        }
        defer { dropStagingReference(ino) }
        guard let o = state.withLock({ $0.open[ino] }) else { throw VFSError(.io, "no staging file") }
        cancelStream(ino)
        let now = clock.now().rounded(.down)
        try stagingLock.withLock {
            try o.staging.truncate(size)
            state.withLock { s in
                if var local = s.open[ino]?.local, let old = s.open[ino]?.size {
                    local.cut(at: size)
                    local.insert(min(old, size)..<size)  // what grows is zeros, not the base's bytes
                    s.open[ino]?.local = local
                }
                s.open[ino]?.size = size
                s.open[ino]?.changed()
                s.open[ino]?.emptyCreate = false
                s.open[ino]?.mtimeSet = false
                // Now, not at the upload: the kernel keeps the attributes this truncate answers.
                s.nodes[ino]?.attrs.mtime = now
                s.nodes[ino]?.attrs.ctime = now
            }
        }
        if !wasOpen || storeNow { try upload(ino) }
    }
}
