import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Attribute changes asked for by `setattr`; nil fields stay as they are.
public struct AttrChange: Sendable {
    public var mode: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?
    public var mtime: Double?
    public var atime: Double?
    public var size: Int64?
    /// Asked through an open descriptor (`ftruncate`, `fchmod`, …): stored at that descriptor's
    /// `close`. Asked by path, the change is stored at once, even while the file is open elsewhere.
    public var throughDescriptor = false

    public init(mode: UInt32? = nil, uid: UInt32? = nil, gid: UInt32? = nil, mtime: Double? = nil, atime: Double? = nil, size: Int64? = nil) {
        self.atime = atime
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.mtime = mtime
        self.size = size
    }
}

extension VFS {
    /// The child `name` of `parent`, from the table when known and fresh, else from the store.
    func child(_ parent: UInt64, _ name: String) throws -> Node {
        try Self.checkName(name)
        let dir = try node(parent)
        guard dir.kind == .directory else { throw VFSError(.notDirectory, "\(name): parent is not a directory") }
        guard Self.storable(name, in: dir) else { throw VFSError(.notFound, "\(name.debugDescription): no such file or directory") }
        let now = clock.now()
        if let n = state.withLock({ s -> Node? in
            guard let ino = s.children[parent]?[name], let n = s.nodes[ino], n.validUntil > now || s.open[ino] != nil else { return nil }
            return n
        }) { return n }
        let mark = changeMark()
        var n = try find(parent: parent, dirKey: dir.key, name: name)
        n.parent = parent
        n.validUntil = trusted(from: now, learnedSince: mark)
        n.lookups = 0
        return insert(parent: parent, n)
    }

    func requireWritable() throws {
        if options.readOnly { throw VFSError(.readOnly, "the mount is read-only") }
    }

    func exists(_ parent: UInt64, _ name: String) throws -> Bool {
        do { _ = try child(parent, name); return true } catch let e as VFSError where e.code == .notFound { return false }
    }

    public func mkdir(parent: UInt64, name: String, mode: UInt32, uid: UInt32, gid: UInt32, umask: UInt32 = 0) throws -> EntryReply {
        try requireWritable()
        if try exists(parent, name) { throw VFSError(.exists, "mkdir \(name): exists") }
        let dir = try node(parent)
        try Self.checkNewName(name, in: dir, directory: true)
        let made = newNode(in: dir, mode: mode, umask: umask, directory: true)
        let attrs = PosixAttributes(mode: NodeKind.directory.typeBits | made.permissions, uid: uid, gid: gid, mtime: clock.now().rounded(.down),
                                    xattrs: made.xattrs)
        let key = dir.key + name + "/"
        try store.put(key, data: Data(), metadata: attrs.encode())
        let n = insert(parent: parent, Node(ino: 0, parent: parent, name: name, kind: .directory, key: key, attrs: attrs, size: 0,
                                            etag: nil, lookups: 1, validUntil: trusted(from: clock.now())))
        entriesChanged(parent)
        return EntryReply(attr: attr(n), ttl: options.metadataTTL)
    }

    public func symlink(parent: UInt64, name: String, target: String, uid: UInt32, gid: UInt32) throws -> EntryReply {
        try requireWritable()
        if try exists(parent, name) { throw VFSError(.exists, "symlink \(name): exists") }
        let dir = try node(parent)
        try Self.checkNewName(name, in: dir)
        let attrs = PosixAttributes(mode: NodeKind.symlink.typeBits | 0o777, uid: uid, gid: gid, mtime: clock.now().rounded(.down))
        let meta = try store.put(dir.key + name, data: Data(target.utf8), metadata: attrs.encode())
        let n = insert(parent: parent, Node(ino: 0, parent: parent, name: name, kind: .symlink, key: dir.key + name, attrs: attrs,
                                            size: meta.size, etag: meta.etag, lookups: 1, validUntil: trusted(from: clock.now())))
        entriesChanged(parent)
        return EntryReply(attr: attr(n), ttl: options.metadataTTL)
    }

    /// A regular file (empty), FIFO, socket or device node: an empty object whose mode carries the
    /// type and, for a device, whose `rdev` its number. mknod(2) of a regular file comes here too.
    public func mknod(parent: UInt64, name: String, mode: UInt32, rdev: UInt32, uid: UInt32, gid: UInt32, umask: UInt32 = 0) throws -> EntryReply {
        try requireWritable()
        let kind = mode & 0o170000 == 0 ? .file : NodeKind(mode: mode)
        guard let kind, kind == .file || kind.isSpecial else { throw VFSError(.invalid, "mknod \(name): not a file, FIFO, socket or device type") }
        if try exists(parent, name) { throw VFSError(.exists, "mknod \(name): exists") }
        let dir = try node(parent)
        try Self.checkNewName(name, in: dir)
        let device = kind == .charDevice || kind == .blockDevice
        let made = newNode(in: dir, mode: mode, umask: umask, directory: false)
        let attrs = PosixAttributes(mode: kind.typeBits | made.permissions, uid: uid, gid: gid, mtime: clock.now().rounded(.down),
                                    rdev: device ? rdev : 0, xattrs: made.xattrs)
        let meta = try store.put(dir.key + name, data: Data(), metadata: attrs.encode())
        let n = insert(parent: parent, Node(ino: 0, parent: parent, name: name, kind: kind, key: dir.key + name, attrs: attrs,
                                            size: 0, etag: meta.etag, lookups: 1, validUntil: trusted(from: clock.now())))
        entriesChanged(parent)
        return EntryReply(attr: attr(n), ttl: options.metadataTTL)
    }

    /// Removes a file. If it is open, its bytes are kept in the staging file so reads go on until close.
    public func unlink(parent: UInt64, name: String) throws {
        try requireWritable()
        let n = try child(parent, name)
        guard n.kind != .directory else { throw VFSError(.isDirectory, "unlink \(name): is a directory") }
        let handlesOpen = state.withLock { s in s.handles.values.contains { $0.ino == n.ino } }
        if handlesOpen {
            try stage(n, truncate: false)
            try materialize(n.ino)  // the object goes away; readers keep the bytes
            cancelStream(n.ino)
            state.withLock { s in
                s.open[n.ino]?.unlinked = true
                for (fh, var h) in s.handles where h.ino == n.ino && !h.holdsStaging {
                    h.holdsStaging = true
                    s.open[n.ino]?.handles += 1
                    s.handles[fh] = h
                }
            }
        }
        // A last release may be storing the file right now (`close` returns before the kernel's
        // asynchronous release, so a new empty file is stored there — after the `unlink` that
        // followed the `close`, it would come back): its upload ends before the delete, and none
        // starts after it.
        try uploadGate.withExclusive(n.ino) {
            state.withLock { $0.open[n.ino]?.unlinked = true }
            try store.delete(n.key)
        }
        detach(parent: parent, name: name)
        entriesChanged(parent)
    }

    public func rmdir(parent: UInt64, name: String) throws {
        try requireWritable()
        let n = try child(parent, name)
        guard n.kind == .directory else { throw VFSError(.notDirectory, "rmdir \(name): not a directory") }
        // Two entries tell: the directory's own marker and anything else.
        let listing = try store.listFirst(prefix: n.key, limit: 2).listing
        if !listing.prefixes.isEmpty || listing.objects.contains(where: { $0.key != n.key }) {
            throw VFSError(.notEmpty, "rmdir \(name): directory not empty")
        }
        try store.delete(n.key)
        detach(parent: parent, name: name)
        entriesChanged(parent)
    }

    /// A directory whose entries changed through this mount gets the time as its mtime and ctime,
    /// kept in memory (storing them would cost a request per create, and SeaweedFS keeps no
    /// attributes for directories): the kernel drops its cached attributes of the directory then.
    func entriesChanged(_ dir: UInt64) {
        let now = clock.now().rounded(.down)
        state.withLock { s in
            s.nodes[dir]?.attrs.mtime = now
            s.nodes[dir]?.attrs.ctime = now
        }
    }

    /// Forgets the name; the inode lives on while the kernel holds references.
    func detach(parent: UInt64, name: String) {
        if let dir = state.withLock({ $0.nodes[parent] }) { prefetch.invalidate(dir.key + name) }
        state.withLock { s in Self.forget(&s, parent: parent, name: name) }
    }

    /// Drops `name` from `parent` (its snapshot too); the inode lives on while the kernel holds
    /// references, never trusted again. Called with the lock held.
    static func forget(_ s: inout State, parent: UInt64, name: String) {
        note(&s, parent: parent, name: name, kind: nil)
        guard let ino = s.children[parent]?[name] else { return }
        s.children[parent]?[name] = nil
        if var n = s.nodes[ino] {
            n.validUntil = 0
            if n.lookups == 0 { s.nodes[ino] = nil } else { s.nodes[ino] = n }
        }
    }

    public func setattr(_ ino: UInt64, _ change: AttrChange) throws -> FileAttr {
        try requireWritable()
        if Self.isVirtual(ino) { throw VFSError(.readOnly, "\(ino == Self.statsIno ? ".stats" : ".config") is read-only") }
        if let size = change.size { try truncate(ino, to: size, storeNow: !change.throughDescriptor) }
        guard change.mode != nil || change.uid != nil || change.gid != nil || change.mtime != nil || change.atime != nil else { return try getattr(ino) }
        let n = try node(ino)
        var a = n.attrs
        if let m = change.mode { a.mode = (a.mode & 0o170000) | (m & 0o7777) }
        if let u = change.uid { a.uid = u }
        if let g = change.gid { a.gid = g }
        // Whole seconds, as stored; any change of attributes is a status change (ctime).
        if let t = change.mtime { a.mtime = t.rounded(.down) }
        if let t = change.atime { a.atime = t.rounded(.down) }
        // A chmod changes the access ACL's owner, mask (or group) and other entries with it.
        if change.mode != nil, let raw = a.xattrs[PosixACL.accessName], let acl = PosixACL(xattr: raw) {
            a.xattrs[PosixACL.accessName] = acl.chmod(a.mode & 0o777).xattr
        }
        a.ctime = clock.now().rounded(.down)
        try storeAttributes(n, a, mtimeSet: change.mtime != nil, throughDescriptor: change.throughDescriptor)
        return try getattr(ino)
    }

    /// Stores a node's new attributes (mode, owner, times, extended attributes): with the bytes of
    /// a file open for writing (at once, or at that descriptor's close when asked through it),
    /// else as a metadata-only copy of its object.
    func storeAttributes(_ n: Node, _ a: PosixAttributes, mtimeSet: Bool = false, throughDescriptor: Bool = false) throws {
        let ino = n.ino
        let staged = state.withLock { s -> Bool in
            s.nodes[ino]?.attrs = a
            guard s.open[ino] != nil else { return false }
            s.open[ino]?.changed()  // the next flush stores the new attributes with the bytes
            if mtimeSet { s.open[ino]?.mtimeSet = true }
            // Held until stored: a release meanwhile (its own upload carries the old attributes)
            // would drop the staging file, and this upload would find nothing to store.
            if !throughDescriptor { s.open[ino]?.handles += 1 }
            return true
        }
        if staged {
            cancelStream(ino)  // its parts carry the old attributes
            if !throughDescriptor {
                defer { dropStagingReference(ino) }
                try upload(ino)
            }
        } else if n.kind == .directory {
            // The bucket's root has no marker to keep them: they last as long as the mount.
            guard !n.key.isEmpty else { return }
            // CopyObject of a `dir/` key fails on SeaweedFS: store the marker again instead.
            try store.put(n.key, data: Data(), metadata: a.encode())
        } else {
            try store.copy(from: n.key, to: n.key, metadata: a.encode())
        }
    }
}
