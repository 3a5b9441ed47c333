import CGaragetytus
import Credentials
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What the sentinel says about the previous run.
public enum SentinelState: Equatable, Sendable {
    /// No previous run, or it stopped cleanly (the file was removed).
    case clean
    /// The previous daemon died without removing the file (kill -9, OOM, power loss).
    case unclean(previousPID: Int32, pidStillInUse: Bool)
    /// Another daemon holds the lock.
    case running(pid: Int32?)

    /// Decides from the lock attempt and the recorded pid. Pure: the pid checker is injected.
    public static func classify(lockAcquired: Bool, recordedPID: Int32?, isAlive: (Int32) -> Bool) -> SentinelState {
        guard lockAcquired else { return .running(pid: recordedPID) }
        guard let pid = recordedPID else { return .clean }
        // We hold the lock, so whoever wrote the pid is gone; a live pid is a reused one.
        return .unclean(previousPID: pid, pidStillInUse: isAlive(pid))
    }
}

/// `sentinel.lock`: holds the running daemon's pid under an exclusive flock; removed on clean stop.
public final class Sentinel: @unchecked Sendable {
    // SAFETY: `fd`, `path` and `wasEmpty` are immutable after init; `committed` is written by `commit`
    // and read by `abandon`, both called from the one thread that starts the daemon, in that order.
    private let fd: Int32
    public let path: String
    /// The file did not exist (or was empty) before this start: a refused start removes it again.
    private let wasEmpty: Bool
    private var committed = false

    private init(fd: Int32, path: String, wasEmpty: Bool) {
        self.fd = fd
        self.path = path
        self.wasEmpty = wasEmpty
    }

    /// Takes the lock and reads what the previous run left. Throws `.alreadyRunning` if another
    /// daemon holds it. Nothing is written until `commit`, so a start that is refused later
    /// (bad config, port in use) leaves the evidence of an unclean shutdown for the next start.
    public static func acquire(path: String,
                               isAlive: (Int32) -> Bool = Sentinel.processIsAlive) throws -> (Sentinel, SentinelState) {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw DaemonError(.environment, "cannot open \(path): \(String(cString: strerror(errno)))", fix: "check the data directory's permissions")
        }
        let lockResult = gt_flock_exclusive_nb(fd)
        let recorded = readPID(fd: fd)
        let state = SentinelState.classify(lockAcquired: lockResult == 0, recordedPID: recorded, isAlive: isAlive)
        if case let .running(pid) = state {
            close(fd)
            let who = pid.map { "pid \($0)" } ?? "another process"
            throw DaemonError(.alreadyRunning, "garagetytus is already running on this home (\(who))",
                              fix: "use `garagetytus status`, or `garagetytus stop` first")
        }
        return (Sentinel(fd: fd, path: path, wasEmpty: recorded == nil), state)
    }

    /// Records the running daemon's pid (the daemon is starting for real now).
    public func commit(pid: Int32 = getpid()) throws {
        let text = "\(pid)\n"
        guard ftruncate(fd, 0) == 0 else { throw DaemonError(.environment, "cannot write \(path): \(String(cString: strerror(errno)))") }
        let n = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        guard n == text.utf8.count, fsync(fd) == 0 else {
            throw DaemonError(.environment, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        committed = true
    }

    /// A start that was refused: drop the lock, leave the file's content as it was.
    public func abandon() {
        if wasEmpty && !committed { unlink(path) }
        close(fd)
    }

    /// Clean stop: removes the file (so the next start counts no unclean shutdown) and drops the lock.
    public func release() {
        unlink(path)
        AtomicFile.syncDirectory((path as NSString).deletingLastPathComponent)
        close(fd)
    }

    private static func readPID(fd: Int32) -> Int32? {
        var buf = [UInt8](repeating: 0, count: 32)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 31, 0) }
        guard n > 0 else { return nil }
        let text = String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return Int32(text)
    }

    /// Whether a process with this pid exists and is not a zombie.
    public static func processIsAlive(_ pid: Int32) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
        // A killed daemon whose parent has not reaped it yet still answers signal 0.
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
           let close = stat.lastIndex(of: ")") {
            let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
            return state != "Z" && state != "X"
        }
        return true
    }

    /// The pid recorded in a sentinel file, without locking (for `status`).
    public static func peekPID(path: String) -> Int32? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return readPID(fd: fd)
    }
}
