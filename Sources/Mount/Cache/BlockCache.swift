import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Object contents kept on disk across mounts: blocks of `blockSize` bytes, each in its own
/// file named for the object's key, its ETag and the block's index, so a block is never served
/// for another version of the object. Least recently used blocks go first when the cache would
/// grow past `capacity`, and no block is written while the filesystem under it has less than
/// `reserve` of its size free (the daemon turns read-only at 10 % free: the cache never pushes it
/// there). Each file carries a CRC-32C of its bytes, checked the first time this process reads
/// the file (and again when the file changed since); a damaged, truncated or unreadable file is a
/// miss and a log line, never an error and never wrong bytes. Two mounts of one bucket may share
/// the directory: files are written whole under a temporary name and renamed into place.
public final class BlockCache: Sendable {
    public struct Options: Sendable {
        public var directory: String
        /// Bytes the blocks may take; nil: a quarter of what is free (or cached) under `directory`.
        public var capacity: Int64?
        public var blockSize = 1 << 20
        /// Share of the filesystem's size that stays free (0.2: 20 %).
        public var reserve = 0.2

        public init(directory: String, capacity: Int64? = nil) {
            self.directory = directory
            self.capacity = capacity
        }
    }

    public struct Stats: Sendable, Equatable {
        public var hits = 0
        public var misses = 0
        public var stored = 0
        public var evicted = 0
        public var damaged = 0
        public var bytes: Int64 = 0
        public var blocks = 0
        public var capacity: Int64 = 0
    }

    /// Where a verified file was: a file replaced or rewritten since is checked again.
    struct FileID: Equatable {
        var inode: UInt64
        var size: Int64
        var mtime: timespec
        static func == (a: FileID, b: FileID) -> Bool {
            a.inode == b.inode && a.size == b.size && a.mtime.tv_sec == b.mtime.tv_sec && a.mtime.tv_nsec == b.mtime.tv_nsec
        }
    }

    struct Entry {
        var size: Int64
        var lastUse: Double
        var verified: FileID?
    }

    struct State {
        var entries: [String: Entry] = [:]
        var total: Int64 = 0
        /// Bytes of blocks being written now: counted against the capacity before they are
        /// kept, so concurrent stores (a fill fetches four windows at once) never overshoot it.
        var pending: Int64 = 0
        var capacity: Int64
        var stats = Stats()
        var tmpCounter = 0
    }

    public let options: Options
    let blockSize: Int
    private let state: Mutex<State>
    private let report: @Sendable (String) -> Void
    private let told = Mutex<Set<String>>([])
    let hashes = Mutex<[String: String]>([:])
    /// Block files open for reading, so a 4 KiB read is one `pread` (and an `fstat`).
    private let openFiles = Mutex(OpenFiles())
    static let headerSize = 48
    static let magic = Array("GTBLOCK2".utf8)

    public init(_ options: Options, onError: @escaping @Sendable (String) -> Void = { _ in }) {
        self.options = options
        blockSize = options.blockSize
        report = onError
        let free = Self.disk(options.directory)?.free ?? 0
        state = Mutex(State(capacity: options.capacity ?? free / 4))
        for sub in ["", "/tmp"] {
            do {
                try FileManager.default.createDirectory(atPath: options.directory + sub, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch {
                onError("block cache: cannot create \(options.directory + sub): \(error); file contents are not kept")
            }
        }
        let scan = Thread { [self] in self.scan() }
        scan.name = "block-cache-scan"
        scan.start()
    }

    public var stats: Stats {
        state.withLock { s in
            var st = s.stats
            st.bytes = s.total
            st.blocks = s.entries.count
            st.capacity = s.capacity
            return st
        }
    }

    /// Bytes `range` (offsets within the block) of block `index` of the object at `etag`, when
    /// the cache holds that block whole and sound; nil otherwise (a miss).
    public func read(key: String, etag: String, index: Int64, range: Range<Int>) -> Data? {
        var d = Data(count: range.count)
        let ok = d.withUnsafeMutableBytes { read(key: key, etag: etag, index: index, range: range, into: $0) }
        return ok ? d : nil
    }

    /// `read` into `dest` (`range.count` bytes); false on a miss (then `dest` holds nothing useful).
    /// Not `counted`: a read of the mount's own (a fill), not of a user's, is no hit in the stats.
    public func read(key: String, etag: String, index: Int64, range: Range<Int>, into dest: UnsafeMutableRawBufferPointer,
                     counted: Bool = true) -> Bool {
        let name = blockName(key: key, etag: etag, index: index)
        let path = self.path(name)
        let file: OpenBlock
        if let known = openFiles.withLock({ $0.files[name] }) {
            file = known
        } else {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                let e = errno
                if e != ENOENT { onError("block cache: cannot open \(path): \(String(cString: strerror(e)))") }
                forget(name)
                return false
            }
            file = OpenBlock(fd)
            openFiles.withLock { $0.insert(name, file) }
        }
        let fd = file.fd
        var st = stat()
        guard fstat(fd, &st) == 0 else { forget(name); return false }
        let id = FileID(inode: UInt64(st.st_ino), size: Int64(st.st_size), mtime: st.st_mtim)
        let length = Int(st.st_size) - Self.headerSize
        guard length >= range.upperBound else { return damaged(name, path, "is \(st.st_size) bytes, too short for what was asked") }
        let known = state.withLock { $0.entries[name]?.verified == id }
        if known || range == 0..<length {
            // Straight into `dest`; a file not verified yet is whole here and checked in place.
            let n = pread(fd, dest.baseAddress, range.count, off_t(Self.headerSize + range.lowerBound))
            guard n == range.count else { return damaged(name, path, "could not be read (\(n) of \(range.count) bytes)") }
            if !known {
                var header = [UInt8](repeating: 0, count: Self.headerSize)
                guard pread(fd, &header, Self.headerSize, 0) == Self.headerSize,
                      Self.verify(header: header, body: UnsafeRawBufferPointer(dest)) else {
                    return damaged(name, path, "does not match its checksum")
                }
            }
        } else {
            var whole = Data(count: Int(st.st_size))
            let n = whole.withUnsafeMutableBytes { pread(fd, $0.baseAddress, Int(st.st_size), 0) }
            guard n == Int(st.st_size) else { return damaged(name, path, "could not be read (\(n) of \(st.st_size) bytes)") }
            let ok = whole.withUnsafeBytes { file -> Bool in
                guard Self.verify(header: Array(file.prefix(Self.headerSize)), body: UnsafeRawBufferPointer(rebasing: file[Self.headerSize...])) else { return false }
                dest.copyMemory(from: UnsafeRawBufferPointer(rebasing: file[(Self.headerSize + range.lowerBound)..<(Self.headerSize + range.upperBound)]))
                return true
            }
            guard ok else { return damaged(name, path, "does not match its checksum") }
        }
        let now = Date().timeIntervalSince1970
        let persist = state.withLock { s -> Bool in
            if counted { s.stats.hits += 1 }
            let old = s.entries[name]
            s.entries[name] = Entry(size: Int64(st.st_size), lastUse: now, verified: id)
            if old == nil { s.total += Int64(st.st_size) }
            // The file's mtime is its last use for the next mount's order (at most once a minute).
            return (old?.lastUse ?? 0) < now - 60 && Double(st.st_mtim.tv_sec) < now - 60
        }
        if persist {
            // A new mtime is a new FileID: it is verified already.
            if futimens(fd, nil) == 0, fstat(fd, &st) == 0 {
                let touched = FileID(inode: UInt64(st.st_ino), size: Int64(st.st_size), mtime: st.st_mtim)
                state.withLock { $0.entries[name]?.verified = touched }
            }
        }
        return true
    }

    /// Whether the cache knows of this block (without reading it).
    public func holds(key: String, etag: String, index: Int64) -> Bool {
        let name = blockName(key: key, etag: etag, index: index)
        return state.withLock { $0.entries[name] != nil }
    }

    /// Keeps `data` as block `index` of the object at `etag` (the whole block: `blockSize` bytes,
    /// or fewer for the object's last block). Failures are told to `onError` and change nothing.
    public func store(key: String, etag: String, index: Int64, data: Data) {
        data.withUnsafeBytes { store(key: key, etag: etag, index: index, bytes: $0) }
    }

    /// `store` from memory the caller owns (no copy is made but the file's).
    public func store(key: String, etag: String, index: Int64, bytes data: UnsafeRawBufferPointer) {
        guard data.count <= blockSize, !data.isEmpty else { return }
        let name = blockName(key: key, etag: etag, index: index)
        let fileSize = Int64(Self.headerSize + data.count)
        guard let disk = Self.disk(options.directory), Double(disk.free - fileSize) >= Double(disk.size) * options.reserve else {
            onError("block cache: less than \(Int(options.reserve * 100)) % of the disk under \(options.directory) is free; blocks are not kept")
            return
        }
        let (victims, tmp) = state.withLock { s -> ([String], String) in
            s.tmpCounter += 1
            let tmp = "\(options.directory)/tmp/\(getpid())-\(s.tmpCounter)"
            defer { s.pending += fileSize }
            guard s.total + s.pending + fileSize > s.capacity else { return ([], tmp) }
            return (Self.evict(&s, toFit: fileSize + s.pending), tmp)
        }
        defer { state.withLock { $0.pending -= fileSize } }
        for v in victims { unlink(path(v)) }
        openFiles.withLock { o in victims.forEach { o.remove($0) }; o.remove(name) }
        guard state.withLock({ $0.capacity >= fileSize }) else {
            onError("block cache: its capacity is less than one block; nothing is kept (see --cache-size)")
            return
        }
        var header = Self.header(for: data)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { onError("block cache: cannot create \(tmp): \(String(cString: strerror(errno)))"); return }
        // Header and body in one writev (a short write of a regular file is a full disk).
        let written = header.withUnsafeMutableBytes { h -> Int in
            var iov = [iovec(iov_base: h.baseAddress, iov_len: h.count),
                       iovec(iov_base: UnsafeMutableRawPointer(mutating: data.baseAddress), iov_len: data.count)]
            return writev(fd, &iov, 2)
        }
        var st = stat()
        let statted = fstat(fd, &st) == 0
        close(fd)
        guard written == Int(fileSize), statted else {
            onError("block cache: cannot write \(tmp): \(written < 0 ? String(cString: strerror(errno)) : "short write")")
            unlink(tmp)
            return
        }
        let final = path(name)
        var moved = rename(tmp, final) == 0
        if !moved && errno == ENOENT {
            mkdir((final as NSString).deletingLastPathComponent, 0o700)
            moved = rename(tmp, final) == 0
        }
        guard moved else {
            onError("block cache: cannot move a block to \(final): \(String(cString: strerror(errno)))")
            unlink(tmp)
            return
        }
        let id = FileID(inode: UInt64(st.st_ino), size: Int64(st.st_size), mtime: st.st_mtim)
        let now = Date().timeIntervalSince1970
        state.withLock { s in
            if let old = s.entries[name] { s.total -= old.size }
            s.entries[name] = Entry(size: fileSize, lastUse: now, verified: id)
            s.total += fileSize
            s.stats.stored += 1
        }
    }

    // MARK: - Damage, eviction, the startup scan (names and formats: BlockCache+Files.swift)

    private func damaged(_ name: String, _ path: String, _ why: String) -> Bool {
        unlink(path)
        openFiles.withLock { $0.remove(name) }
        state.withLock { $0.stats.damaged += 1 }
        forget(name)
        report("block cache: \(path) \(why); removed, the block is fetched again")
        return false
    }

    /// A read that missed (the one place misses are counted): the block is no longer known.
    private func forget(_ name: String) {
        state.withLock { s in
            if let e = s.entries.removeValue(forKey: name) { s.total -= e.size }
            s.stats.misses += 1
        }
    }

    /// Takes the least recently used entries out until `fileSize` more fits in 90 % of the
    /// capacity (so eviction runs in batches); returns their names for the caller to unlink.
    static func evict(_ s: inout State, toFit fileSize: Int64) -> [String] {
        let goal = max(0, s.capacity - s.capacity / 10 - fileSize)
        var victims: [String] = []
        for (name, e) in s.entries.sorted(by: { $0.value.lastUse < $1.value.lastUse }) {
            guard s.total > goal else { break }
            s.entries[name] = nil
            s.total -= e.size
            victims.append(name)
        }
        s.stats.evicted += victims.count
        return victims
    }

    /// Learns what earlier mounts left (sizes, and mtimes as last uses), removes their unfinished
    /// temporary files, and evicts down to the capacity.
    private func scan() {
        let fm = FileManager.default
        let dir = options.directory
        let now = Date().timeIntervalSince1970
        for tmp in (try? fm.contentsOfDirectory(atPath: dir + "/tmp")) ?? [] {
            var st = stat()
            if stat("\(dir)/tmp/\(tmp)", &st) == 0, Double(st.st_mtim.tv_sec) < now - 600 { unlink("\(dir)/tmp/\(tmp)") }
        }
        var found: [(String, Entry)] = []
        for sub in (try? fm.contentsOfDirectory(atPath: dir)) ?? [] where sub.utf8.count == 2 {
            for name in (try? fm.contentsOfDirectory(atPath: "\(dir)/\(sub)")) ?? [] {
                var st = stat()
                guard stat("\(dir)/\(sub)/\(name)", &st) == 0 else { continue }
                found.append((name, Entry(size: Int64(st.st_size), lastUse: Double(st.st_mtim.tv_sec), verified: nil)))
            }
        }
        let free = Self.disk(dir)?.free ?? 0
        let victims = state.withLock { s -> [String] in
            var scanned: Int64 = 0
            for (name, e) in found where s.entries[name] == nil {
                s.entries[name] = e
                s.total += e.size
                scanned += e.size
            }
            if options.capacity == nil { s.capacity = (free + scanned) / 4 }
            return s.total > s.capacity ? Self.evict(&s, toFit: 0) : []
        }
        for v in victims { unlink(path(v)) }
        openFiles.withLock { o in victims.forEach { o.remove($0) } }
    }

    /// Tells the first failure of each kind (a full disk would otherwise log every block).
    func onError(_ message: String) {
        let kind = String(message.prefix(40))
        if told.withLock({ $0.insert(kind).inserted }) { report(message) }
    }
}
