import Foundation

/// What kind of filesystem object a key stands for.
public enum NodeKind: Sendable, Equatable, CaseIterable {
    case file, directory, symlink
    /// Special files: an empty object whose mode carries the type (as s3fs stores them); the
    /// kernel itself does a FIFO's, a socket's or a device's I/O, the mount only keeps the inode.
    case fifo, socket, charDevice, blockDevice

    /// The `S_IFMT` bits of this kind.
    public var typeBits: UInt32 {
        switch self {
        case .file: return 0o100000
        case .directory: return 0o040000
        case .symlink: return 0o120000
        case .fifo: return 0o010000
        case .socket: return 0o140000
        case .charDevice: return 0o020000
        case .blockDevice: return 0o060000
        }
    }

    /// The kind whose type bits `mode` has; nil for none (0) or an unknown type.
    public init?(mode: UInt32) {
        guard let k = Self.allCases.first(where: { $0.typeBits == mode & 0o170000 }) else { return nil }
        self = k
    }

    /// Kept as an empty object of its own kind: not a regular file, directory or symlink.
    public var isSpecial: Bool { [.fifo, .socket, .charDevice, .blockDevice].contains(self) }
}

/// Attributes for objects that carry none (written by plain S3 tools).
public struct AttributeDefaults: Sendable, Equatable {
    public var fileMode: UInt32 = 0o644
    public var directoryMode: UInt32 = 0o755
    public var uid: UInt32
    public var gid: UInt32

    public init(uid: UInt32, gid: UInt32) {
        self.uid = uid
        self.gid = gid
    }
}

/// POSIX attributes kept in object user metadata under the names s3fs uses, so that buckets
/// written by s3fs mount with the right modes and the other way round:
/// `x-amz-meta-mode` (decimal `st_mode` with its type bits), `-uid`, `-gid`, `-mtime` (seconds),
/// `-xattr` (extended attributes, see `S3fsXattrs`). A symlink is an object whose mode has
/// `S_IFLNK` and whose body is the target; a FIFO, socket or device an empty object whose mode has
/// its type, and a device's number in `x-amz-meta-rdev` (decimal, the kernel's encoding; s3fs
/// keeps none and shows 0).
public struct PosixAttributes: Sendable, Equatable {
    /// Full `st_mode`: type bits and permission bits.
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    /// Modification time, seconds since the epoch.
    public var mtime: Double
    /// Access and status-change times (`x-amz-meta-atime`, `-ctime`, as s3fs keeps them); stored
    /// only when they differ from `mtime`, which they are when not set.
    public var atime: Double
    public var ctime: Double
    /// A device's number (`st_rdev`); 0 for anything else.
    public var rdev: UInt32 = 0
    /// Extended attributes by name (`user.*` and any other namespace the kernel passes on).
    public var xattrs: [String: Data] = [:]

    public init(mode: UInt32, uid: UInt32, gid: UInt32, mtime: Double, atime: Double? = nil, ctime: Double? = nil,
                rdev: UInt32 = 0, xattrs: [String: Data] = [:]) {
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.mtime = mtime
        self.atime = atime ?? mtime
        self.ctime = ctime ?? mtime
        self.rdev = rdev
        self.xattrs = xattrs
    }

    public var kind: NodeKind { NodeKind(mode: mode) ?? .file }

    public var permissions: UInt32 { mode & 0o7777 }

    /// Attributes from an object's metadata. `kind` is what the key says (a `dir/` key or a common
    /// prefix is a directory); a stored mode with a symlink type turns a file into a symlink.
    /// Missing or malformed values fall back to `defaults` and the object's date.
    public static func decode(_ meta: [String: String], kind: NodeKind, lastModified: Date?,
                              defaults: AttributeDefaults) -> PosixAttributes {
        let fallbackMode = kind == .directory ? defaults.directoryMode : defaults.fileMode
        var mode = kind.typeBits | fallbackMode
        if let text = meta["mode"], let stored = UInt32(text) ?? UInt32(text.trimmingCharacters(in: .whitespaces)) {
            let storedType = stored & 0o170000
            let permissions = stored & 0o7777
            switch (kind, NodeKind(mode: storedType)) {
            case (.directory, _): mode = NodeKind.directory.typeBits | permissions
            case (_, let stored?) where stored == .symlink || stored.isSpecial: mode = storedType | permissions
            default: mode = kind.typeBits | permissions
            }
        }
        func seconds(_ name: String) -> Double? { meta[name].flatMap { Double($0) ?? Double($0.trimmingCharacters(in: .whitespaces)) } }
        let mtime = seconds("mtime") ?? lastModified?.timeIntervalSince1970 ?? 0
        let special = NodeKind(mode: mode)?.isSpecial == true
        return PosixAttributes(mode: mode,
                               uid: meta["uid"].flatMap { UInt32($0) } ?? defaults.uid,
                               gid: meta["gid"].flatMap { UInt32($0) } ?? defaults.gid,
                               mtime: mtime, atime: seconds("atime"), ctime: seconds("ctime"),
                               rdev: special ? meta["rdev"].flatMap { UInt32($0) } ?? 0 : 0,
                               xattrs: meta["xattr"].map(S3fsXattrs.decode) ?? [:])
    }

    /// The metadata keys `encode` writes (s3fs's); an object's other keys belong to other tools.
    public static let ownKeys: Set<String> = ["mode", "uid", "gid", "mtime", "atime", "ctime", "rdev", "xattr"]

    /// The metadata to store with the object (s3fs writes whole seconds; so do we).
    public func encode() -> [String: String] {
        let whole = { (t: Double) in String(Int64(t.rounded(.down))) }
        var meta = ["mode": String(mode), "uid": String(uid), "gid": String(gid), "mtime": whole(mtime)]
        if whole(atime) != meta["mtime"] { meta["atime"] = whole(atime) }
        if whole(ctime) != meta["mtime"] { meta["ctime"] = whole(ctime) }
        if rdev != 0 { meta["rdev"] = String(rdev) }
        if !xattrs.isEmpty { meta["xattr"] = S3fsXattrs.encode(xattrs) }
        return meta
    }
}
