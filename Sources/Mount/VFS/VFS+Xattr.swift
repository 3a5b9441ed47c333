import Foundation

/// Extended attributes: kept with the object's other attributes (`PosixAttributes.xattrs`, stored
/// in s3fs's `x-amz-meta-xattr`), so a file's bytes and its attributes are stored together and a
/// change is a metadata-only copy, as a `chmod` is. The kernel checks each namespace's rules
/// (`user.*` only on files and directories, `trusted.*` for root) before a request gets here.
extension VFS {
    /// setxattr(2)'s flags.
    public enum XattrMode: Sendable { case any, create, replace }

    /// The value of `name`; with `limit` > 0 (the caller's buffer), ERANGE when it does not fit.
    public func getxattr(_ ino: UInt64, name: String, limit: Int = 0) throws -> Data {
        let n = try attributed(ino)
        guard let value = n.attrs.xattrs[name] else { throw VFSError(.noAttribute, "\(name): no such attribute") }
        if limit > 0 && value.count > limit { throw VFSError(.range, "\(name): the value is \(value.count) bytes, the buffer \(limit)") }
        return value
    }

    /// The names, each followed by a NUL, as listxattr(2) gives them; ERANGE as `getxattr`.
    public func listxattr(_ ino: UInt64, limit: Int = 0) throws -> Data {
        let n = try attributed(ino)
        var out = Data()
        for name in n.attrs.xattrs.keys.sorted() {
            out.append(contentsOf: Array(name.utf8))
            out.append(0)
        }
        if limit > 0 && out.count > limit { throw VFSError(.range, "the names take \(out.count) bytes, the buffer \(limit)") }
        return out
    }

    public func setxattr(_ ino: UInt64, name: String, value: Data, mode: XattrMode = .any) throws {
        guard options.extendedAttributes else { throw VFSError(.unsupported, "extended attributes are off (mount with --xattr)") }
        try requireWritable()
        if Self.isVirtual(ino) { throw VFSError(.readOnly, "the mount's own files have no attributes to set") }
        guard S3fsXattrs.storable(name: name) else {
            throw VFSError(.invalid, "\(name.debugDescription): attribute names with '\"', ',' or control characters cannot be stored")
        }
        let n = try attributed(ino)
        var a = n.attrs
        switch (mode, a.xattrs[name] != nil) {
        case (.create, true): throw VFSError(.exists, "\(name): the attribute exists")
        case (.replace, false): throw VFSError(.noAttribute, "\(name): no such attribute")
        default: break
        }
        a.xattrs[name] = value
        if name == PosixACL.accessName {
            // The mode's permission bits follow the access ACL; one the mode says all of is not kept.
            guard let acl = PosixACL(xattr: value) else { throw VFSError(.invalid, "\(name): not a POSIX ACL") }
            a.mode = (a.mode & ~0o777) | acl.permissionBits
            if acl.isEquivalentToMode { a.xattrs[name] = nil }
        }
        guard S3fsXattrs.encode(a.xattrs).utf8.count <= S3fsXattrs.maxEncodedBytes else {
            throw VFSError(.noSpace, "\(name): the attributes would take more than \(S3fsXattrs.maxEncodedBytes) bytes of object metadata")
        }
        try storeAttributes(n, a)
    }

    public func removexattr(_ ino: UInt64, name: String) throws {
        try requireWritable()
        let n = try attributed(ino)
        var a = n.attrs
        guard a.xattrs.removeValue(forKey: name) != nil else { throw VFSError(.noAttribute, "\(name): no such attribute") }
        try storeAttributes(n, a)
    }

    /// The node with attributes as fresh as `getattr` gives them; the mount's own files have none.
    private func attributed(_ ino: UInt64) throws -> Node {
        if Self.isVirtual(ino) { return Node(ino: ino, parent: Self.rootIno, name: "", kind: .file, key: "", attrs: PosixAttributes(mode: 0, uid: 0, gid: 0, mtime: 0),
                                             size: 0, etag: nil, lookups: 0, validUntil: 0) }
        let n = try node(ino)
        let open = state.withLock { $0.open[ino] != nil }
        if !open && n.ino != Self.rootIno && n.validUntil <= clock.now() { return try refresh(n) }
        return n
    }

    /// The permission bits and ACL attributes of a node made in `dir` with `mode` by a caller
    /// with `umask`: under a default ACL (extended attributes on), the ACL it inherits and the bits
    /// that ACL allows, the umask left out (POSIX.1e); else the mode less the umask (which the
    /// kernel applied already when it does not leave it to the mount: applying it twice is the same).
    func newNode(in dir: Node, mode: UInt32, umask: UInt32, directory: Bool) -> (permissions: UInt32, xattrs: [String: Data]) {
        guard options.extendedAttributes, let raw = dir.attrs.xattrs[PosixACL.defaultName], let inherit = PosixACL(xattr: raw) else {
            return (mode & 0o7777 & ~umask, [:])
        }
        let (acl, bits) = inherit.inherited(mode & 0o777)
        var xattrs: [String: Data] = [:]
        if !acl.isEquivalentToMode { xattrs[PosixACL.accessName] = acl.xattr }
        if directory { xattrs[PosixACL.defaultName] = raw }
        return (mode & 0o7000 | bits, xattrs)
    }
}
