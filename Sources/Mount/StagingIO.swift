import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Positioned reads and writes of staging files, retried on EINTR and short transfers: the one
/// copy of these loops for the VFS (reads, writes, fills) and the uploads (parts, whole files).
public enum StagingIO {
    /// Staging files are `gt-stage-<pid>-<ino>-<random>`: the pid tells whose they are.
    static let prefix = "gt-stage-"

    /// A fresh staging file name in `dir` for inode `ino` of this process.
    static func newPath(in dir: String, ino: UInt64) -> String {
        dir + "/" + prefix + "\(getpid())-\(ino)-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Removes the staging files in `dir` that belong to a mount process no longer alive (killed
    /// before it could unmount): their files were never closed, so their data were never
    /// acknowledged and are not uploaded. Returns how many files and bytes were removed.
    public static func removeStale(in dir: String, isAlive: (Int32) -> Bool) -> (files: Int, bytes: Int64) {
        var files = 0, bytes: Int64 = 0
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where name.hasPrefix(prefix) {
            guard let pid = name.dropFirst(prefix.count).split(separator: "-").first.flatMap({ Int32($0) }),
                  pid != getpid(), !isAlive(pid) else { continue }
            var st = stat()
            if lstat(dir + "/" + name, &st) == 0, unlink(dir + "/" + name) == 0 {
                files += 1
                bytes += Int64(st.st_size)
            }
        }
        return (files, bytes)
    }

    /// Writes all of `data` at `offset`; ENOSPC stays ENOSPC.
    static func write(_ fd: Int32, _ data: Data, offset: Int64) throws {
        try data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                // SAFETY: `raw` has `raw.count` bytes and `done < raw.count`.
                let n = Glibc.pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw VFSError(errno == ENOSPC ? .noSpace : .io, "staging write: \(String(cString: strerror(errno)))")
                }
                done += n
            }
        }
    }

    /// Up to `count` bytes at `offset` (fewer at the end of the file).
    static func read(_ fd: Int32, offset: Int64, count: Int) throws -> Data {
        guard count > 0 else { return Data() }
        var data = Data(count: count)
        let got = try data.withUnsafeMutableBytes { raw -> Int in
            var done = 0
            while done < count {
                // SAFETY: `raw` has `count` bytes and `done < count`.
                let n = Glibc.pread(fd, raw.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw VFSError(.io, "staging read: \(String(cString: strerror(errno)))")
                }
                if n == 0 { break }
                done += n
            }
            return done
        }
        return data.prefix(got)
    }

    /// Exactly `count` bytes at `offset`, or `.io` if the file is shorter.
    static func readExactly(_ fd: Int32, offset: Int64, count: Int, path: String) throws -> Data {
        let data = try read(fd, offset: offset, count: count)
        guard data.count == count else { throw VFSError(.io, "staging file \(path) shrank during upload") }
        return data
    }
}
