import Foundation

/// Attributes of one inode, as the FUSE adapter turns them into `struct stat`.
public struct FileAttr: Sendable, Equatable {
    public var ino: UInt64
    public var size: Int64
    /// Full `st_mode` (type and permission bits).
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var mtime: Double
    public var nlink: UInt32
    /// A device's number (`st_rdev`), 0 for others.
    public var rdev: UInt32 = 0
    /// Access and status-change times (the modification time when nil).
    public var atime: Double? = nil
    public var ctime: Double? = nil
}

/// A lookup's answer: the inode's attributes and how long the kernel may cache them.
public struct EntryReply: Sendable, Equatable {
    public var attr: FileAttr
    public var ttl: Double
}

/// One directory entry.
public struct DirEntry: Sendable, Equatable {
    public var name: String
    public var ino: UInt64
    public var mode: UInt32
    /// A file's attributes as the listing gave them (when it carried its metadata): what
    /// readdirplus hands the kernel for it. Decoded at once, so a big directory's listing (every
    /// entry's metadata map) is not held while the kernel reads it.
    public var listed: Listed? = nil

    public struct Listed: Sendable, Equatable {
        public var attrs: PosixAttributes
        public var size: Int64
        public var etag: String?
    }
}

/// Mount options the core needs.
public struct VFSOptions: Sendable {
    /// Key prefix the mount shows, "" or ending in "/".
    public var prefix: String
    /// How long attributes and listings are trusted before the store is asked again.
    public var metadataTTL: Double
    /// How long they are trusted while a change feed reports every change to the bucket
    /// (see `VFS.applyChange`): the feed, not the clock, tells when they are stale.
    public var followedTTL: Double = 300
    public var defaults: AttributeDefaults
    public var readOnly: Bool
    /// Where files being written are staged until they are uploaded.
    public var cacheDir: String
    /// Extra facts shown in `.config` (endpoint, bucket, …; never secrets).
    public var info: [String: String] = [:]
    /// Where failures that reach an application as EIO (or ESTALE) are told, with their cause:
    /// the mount's log file.
    public var onError: (@Sendable (String) -> Void)? = nil
    /// Whether a process still runs: a `close` by another process than a file's living opener
    /// stores nothing (see `VFS.flush`). The mount passes the daemon's `Sentinel.processIsAlive`;
    /// by default every opener counts as living, so such a file is stored at the last release.
    public var processIsAlive: @Sendable (Int32) -> Bool = { _ in true }
    /// Chunk size and window of sequential read-ahead.
    var readAhead = ReadAhead.Tuning()
    /// Where file contents are kept across reads and mounts; nil: every read asks the store.
    public var blockCache: BlockCache? = nil
    /// Bytes fetched around a read the block cache misses (rounded to its blocks).
    public var cacheFetchSize: Int64 = 4 << 20
    /// Whether extended attributes are served (`--xattr`). Off, the kernel is told the mount has
    /// none at its first request and asks no more: `ls -l` asks two per file otherwise
    /// (`security.selinux`, `system.posix_acl_access`), which halves a cold listing's speed.
    public var extendedAttributes = false

    public init(prefix: String = "", metadataTTL: Double = 1, defaults: AttributeDefaults, readOnly: Bool = false,
                cacheDir: String = NSTemporaryDirectory()) {
        var p = prefix
        while p.hasPrefix("/") { p.removeFirst() }
        if !p.isEmpty && !p.hasSuffix("/") { p += "/" }
        self.prefix = p
        self.metadataTTL = metadataTTL
        self.defaults = defaults
        self.readOnly = readOnly
        self.cacheDir = cacheDir
    }
}

/// A clock the core reads; tests pass a manual one.
public protocol Clock: Sendable {
    func now() -> Double
}

public struct SystemClock: Clock {
    public init() {}
    public func now() -> Double { Date().timeIntervalSince1970 }
}
