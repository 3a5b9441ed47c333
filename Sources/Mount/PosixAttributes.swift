import Foundation

/// What kind of filesystem object a key stands for.
public enum NodeKind: Sendable, Equatable {
    case file, directory, symlink

    /// The `S_IFMT` bits of this kind.
    public var typeBits: UInt32 {
        switch self {
        case .file: return 0o100000
        case .directory: return 0o040000
        case .symlink: return 0o120000
        }
    }
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
/// `x-amz-meta-mode` (decimal `st_mode` with its type bits), `-uid`, `-gid`, `-mtime` (seconds).
/// A symlink is an object whose mode has `S_IFLNK` and whose body is the target.
public struct PosixAttributes: Sendable, Equatable {
    /// Full `st_mode`: type bits and permission bits.
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    /// Modification time, seconds since the epoch.
    public var mtime: Double

    public init(mode: UInt32, uid: UInt32, gid: UInt32, mtime: Double) {
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.mtime = mtime
    }

    public var kind: NodeKind {
        switch mode & 0o170000 {
        case 0o040000: return .directory
        case 0o120000: return .symlink
        default: return .file
        }
    }

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
            switch (kind, storedType) {
            case (.directory, _): mode = NodeKind.directory.typeBits | permissions
            case (_, NodeKind.symlink.typeBits): mode = NodeKind.symlink.typeBits | permissions
            default: mode = kind.typeBits | permissions
            }
        }
        let mtime = meta["mtime"].flatMap { Double($0) ?? Double($0.trimmingCharacters(in: .whitespaces)) }
            ?? lastModified?.timeIntervalSince1970 ?? 0
        return PosixAttributes(mode: mode,
                               uid: meta["uid"].flatMap { UInt32($0) } ?? defaults.uid,
                               gid: meta["gid"].flatMap { UInt32($0) } ?? defaults.gid,
                               mtime: mtime)
    }

    /// The metadata to store with the object (s3fs writes whole seconds; so do we).
    public func encode() -> [String: String] {
        ["mode": String(mode), "uid": String(uid), "gid": String(gid), "mtime": String(Int64(mtime.rounded(.down)))]
    }
}
