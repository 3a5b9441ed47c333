import S3

/// What a name in the mount may be.
extension VFS {
    static func checkName(_ name: String) throws {
        guard !name.isEmpty, !name.utf8.contains(UInt8(ascii: "/")), name != ".", name != ".." else {
            throw VFSError(.invalid, "invalid name \(name)")
        }
        guard name.utf8.count <= 255 else { throw VFSError(.nameTooLong, "name longer than 255 bytes") }
    }

    /// Whether an object could exist under `name` in `dir` (else a lookup is ENOENT without asking
    /// the store, which would refuse the key).
    static func storable(_ name: String, in dir: Node) -> Bool {
        dir.key.utf8.count + name.utf8.count <= S3Key.maxBytes
    }

    /// A name for something new in `dir`: besides `checkName`, a whole key (with a directory's
    /// trailing slash) within S3's limit. Control characters are fine: keys may hold any character
    /// but NUL, and listings are asked URL-encoded.
    static func checkNewName(_ name: String, in dir: Node, directory: Bool = false) throws {
        try checkName(name)
        if dir.ino == rootIno, virtualNames[name] != nil {
            throw VFSError(.exists, "\(name) is the mount's own file at the top; use another name (in a subdirectory it is free)")
        }
        guard dir.key.utf8.count + name.utf8.count + (directory ? 1 : 0) <= S3Key.maxBytes else {
            throw VFSError(.nameTooLong, "\(name.prefix(40))…: the object key would be longer than \(S3Key.maxBytes) bytes")
        }
    }
}
