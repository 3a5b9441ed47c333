import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The local bytes of an open file. A small file lives in memory — creating, writing and
/// removing a file in the cache directory for every small file cost the mount a fifth of its
/// CPU per created file — and moves to a staging file in the cache directory once it outgrows
/// `StagingMemory.perFile` or the mount's memory budget is spent. It never moves back.
final class Staging: @unchecked Sendable {
    /// Where the staging file is (or will be, once the bytes move there).
    let path: String
    private let memory: StagingMemory
    // SAFETY: the fields below are read and written with `lock` held.
    private let lock = NSLock()
    private var bytes: Data?
    private var reserved = 0
    private var fd: Int32 = -1
    /// Counts writes and truncations: a snapshot taken at one count serves only while it holds.
    private var writes: UInt64 = 0

    /// An empty file, held in memory while it is small.
    init(path: String, memory: StagingMemory) {
        self.path = path
        self.memory = memory
        self.bytes = Data()
    }

    /// A staging file created now (for files that start big, e.g. staged partly).
    init(file path: String, memory: StagingMemory) throws {
        self.path = path
        self.memory = memory
        self.fd = try Self.create(path)
    }

    /// Writes `data` at `offset` (a gap before it reads as zeros).
    func write(_ data: Data, offset: Int64) throws {
        lock.lock()
        defer { lock.unlock() }
        let end = offset + Int64(data.count)
        writes &+= 1
        let done = try changeInMemory(toAtMost: end) { b in
            if Int64(b.count) < offset { b.append(Data(count: Int(offset) - b.count)) }
            b.replaceSubrange(Int(offset)..<min(b.count, Int(end)), with: data)
        }
        if !done { try StagingIO.write(fd, data, offset: offset) }
    }

    /// Up to `count` bytes at `offset`.
    func read(offset: Int64, count: Int) throws -> Data {
        lock.lock()
        defer { lock.unlock() }
        if let b = bytes {
            let lo = Int(min(offset, Int64(b.count)))
            return b.subdata(in: lo..<min(b.count, lo + max(0, count)))
        }
        return try StagingIO.read(fd, offset: offset, count: count)
    }

    /// Cuts or extends (with zeros) the file to `size`.
    func truncate(_ size: Int64) throws {
        lock.lock()
        defer { lock.unlock() }
        writes &+= 1
        let done = try changeInMemory(toAtMost: size) { b in
            if size < Int64(b.count) { b.removeSubrange(Int(size)...) } else { b.append(Data(count: Int(size) - b.count)) }
        }
        guard done || ftruncate(fd, off_t(size)) == 0 else {
            throw VFSError(errno == ENOSPC ? .noSpace : .io, "ftruncate: \(String(cString: strerror(errno)))")
        }
    }

    /// How many writes and truncations the bytes have had.
    var writeCount: UInt64 { lock.withLock { writes } }

    /// A reader of the bytes as they were after `expected` writes, valid as long as no write
    /// follows (it answers nil from then on), and also after `remove`: it holds its own
    /// descriptor of the staging file (or the bytes in memory). Nil when a write followed already.
    func snapshot(afterWrites expected: UInt64) -> (@Sendable (Range<Int64>) -> Data?)? {
        lock.lock()
        defer { lock.unlock() }
        guard writes == expected else { return nil }
        if let b = bytes {
            return { r in
                let lo = Int(min(r.lowerBound, Int64(b.count)))
                return b.subdata(in: lo..<min(b.count, lo + r.count))
            }
        }
        let own = dup(fd)
        guard own >= 0 else { return nil }
        let held = HeldDescriptor(own)
        return { [self] r in
            lock.lock()
            defer { lock.unlock() }
            // After `remove` nothing writes the file any more; before, a write ends the snapshot.
            guard writes == expected else { return nil }
            return try? StagingIO.read(held.fd, offset: r.lowerBound, count: r.count)
        }
    }

    /// All the bytes, while they are in memory (nil once they are in the staging file).
    var inMemory: Data? {
        lock.withLock { bytes }
    }

    /// The staging file's descriptor, moving the bytes there first if they are in memory (for
    /// the readers that take a file: multipart uploads).
    func file() throws -> Int32 {
        lock.lock()
        defer { lock.unlock() }
        if bytes != nil { try spill() }
        return fd
    }

    /// Forgets the bytes: closes and removes the staging file, or gives the memory back.
    func remove() {
        lock.lock()
        defer { lock.unlock() }
        bytes = nil
        memory.give(reserved)
        reserved = 0
        if fd >= 0 {
            close(fd)
            Glibc.unlink(path)
            fd = -1
        }
    }

    /// A descriptor closed when the last closure holding it goes.
    final class HeldDescriptor: Sendable {
        let fd: Int32
        init(_ fd: Int32) { self.fd = fd }
        deinit { close(fd) }
    }

    /// Applies `change` to the bytes in memory when they may be `size` bytes long afterwards and
    /// says so; else moves them to the staging file (if they are not there already) and says no.
    /// Called with `lock` held.
    private func changeInMemory(toAtMost size: Int64, _ change: (inout Data) -> Void) throws -> Bool {
        guard var b = bytes else { return false }
        guard size <= Int64(b.count) || hold(size) else {
            try spill()
            return false
        }
        bytes = nil  // one owner while it changes, so it is not copied
        change(&b)
        bytes = b
        return true
    }

    /// Whether the in-memory bytes may grow to `size`; takes the memory from the budget.
    /// Called with `lock` held.
    private func hold(_ size: Int64) -> Bool {
        guard size <= StagingMemory.perFile else { return false }
        let more = Int(size) - reserved
        guard more <= 0 || memory.take(more) else { return false }
        reserved = max(reserved, Int(size))
        return true
    }

    /// Moves the in-memory bytes to a new staging file. Called with `lock` held.
    private func spill() throws {
        guard let b = bytes else { return }
        let fd = try Self.create(path)
        do {
            try StagingIO.write(fd, b, offset: 0)
        } catch {
            close(fd)
            Glibc.unlink(path)
            throw error
        }
        self.fd = fd
        bytes = nil
        memory.give(reserved)
        reserved = 0
    }

    private static func create(_ path: String) throws -> Int32 {
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw VFSError(errno == ENOSPC ? .noSpace : .io, "cannot create staging file \(path): \(String(cString: strerror(errno)))")
        }
        return fd
    }
}

/// How much memory the mount's in-memory staging may hold in all (one per VFS).
final class StagingMemory: Sendable {
    /// A file bigger than this is staged on disk.
    static let perFile: Int64 = 256 << 10
    let limit: Int
    private let used = Mutex(0)

    init(limit: Int = 32 << 20) {
        self.limit = limit
    }

    func take(_ n: Int) -> Bool {
        used.withLock { u in
            guard u + n <= limit else { return false }
            u += n
            return true
        }
    }

    func give(_ n: Int) {
        used.withLock { $0 -= n }
    }

    var inUse: Int { used.withLock { $0 } }
}
