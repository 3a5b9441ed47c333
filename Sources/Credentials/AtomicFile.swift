#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Durable whole-file writes: temp file in the same directory, fsync, rename, fsync the directory.
///
/// A reader sees either the old content or the new, never a torn file; after `write` returns the new
/// content survives a crash of this process or of the machine.
public enum AtomicFile {
    /// Writes `data` to `path` atomically with the given permission bits.
    public static func write(_ data: Data, to path: String, mode: mode_t = 0o644) throws {
        let dir = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        let tmp = "\(dir.isEmpty ? "." : dir)/.\(base).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileError.posix(op: "create", path: tmp, errno: errno) }
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        do {
            defer { close(fd) }
            // Mode given to open is filtered by the umask; make it exact.
            guard fchmod(fd, mode) == 0 else { throw FileError.posix(op: "chmod", path: tmp, errno: errno) }
            try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                // SAFETY: `raw` is valid for the duration of the closure; we only read `raw.count` bytes.
                var offset = 0
                while offset < raw.count {
                    let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw FileError.posix(op: "write", path: tmp, errno: errno)
                    }
                    offset += n
                }
            }
            guard fsync(fd) == 0 else { throw FileError.posix(op: "fsync", path: tmp, errno: errno) }
        }
        guard rename(tmp, path) == 0 else { throw FileError.posix(op: "rename", path: path, errno: errno) }
        ok = true
        syncDirectory(dir.isEmpty ? "." : dir)
    }

    /// Writes a UTF-8 string atomically.
    public static func write(_ text: String, to path: String, mode: mode_t = 0o644) throws {
        try write(Data(text.utf8), to: path, mode: mode)
    }

    /// fsyncs a directory so a rename or unlink inside it is durable. Best effort.
    public static func syncDirectory(_ dir: String) {
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }
}

/// A file-system failure with the operation, the path and the reason.
public enum FileError: Error, CustomStringConvertible, Sendable {
    case posix(op: String, path: String, errno: Int32)

    public var description: String {
        switch self {
        case let .posix(op, path, code):
            return "\(op) \(path): \(String(cString: strerror(code)))"
        }
    }

    public var errnoCode: Int32 {
        switch self {
        case let .posix(_, _, code): return code
        }
    }
}
