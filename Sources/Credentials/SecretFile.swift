#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Files that hold secrets: created 0600 inside a 0700 directory, and refused (as ssh does) when
/// their permissions are looser or their owner is someone else.
public enum SecretFile {
    /// Creates `dir` (and parents) if needed and makes sure it is 0700 and ours.
    public static func ensurePrivateDirectory(_ dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        guard chmod(dir, 0o700) == 0 else { throw FileError.posix(op: "chmod", path: dir, errno: errno) }
    }

    /// Writes a secret file atomically with mode 0600.
    public static func write(_ data: Data, to path: String) throws {
        try AtomicFile.write(data, to: path, mode: 0o600)
    }

    /// Reads a secret file after checking it is a regular file owned by us and not readable by others.
    public static func read(_ path: String) throws -> Data {
        var st = stat()
        guard lstat(path, &st) == 0 else { throw FileError.posix(op: "stat", path: path, errno: errno) }
        if let problem = permissionProblem(mode: st.st_mode, owner: st.st_uid, me: geteuid()) {
            throw SecretFileError(path: path, problem: problem)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FileError.posix(op: "read", path: path, errno: errno == 0 ? EIO : errno)
        }
        return data
    }

    /// Why a secret file with this mode and owner must not be trusted, or nil when it is fine.
    public static func permissionProblem(mode: mode_t, owner: uid_t, me: uid_t) -> String? {
        if (mode & S_IFMT) != S_IFREG { return "is not a regular file" }
        if owner != me { return "is owned by uid \(owner), not by uid \(me)" }
        let loose = mode & 0o077
        if loose != 0 {
            return "has permissions \(String(mode & 0o777, radix: 8)), readable or writable by others"
        }
        return nil
    }
}

/// A secret file that must not be used; the message says how to fix it.
public struct SecretFileError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var problem: String
    public var description: String {
        "\(path) \(problem) — fix it with: chown $(id -u) '\(path)' && chmod 600 '\(path)'"
    }
}
