import CGaragetytus
import Daemon
import Foundation
import S3
#if canImport(Glibc)
import Glibc
#endif

/// Starts `garagetytus serve` in the background and waits for it; stops it and waits.
struct DaemonLauncher {
    let paths: Paths

    enum StartOutcome {
        case started(DaemonStatus, seconds: Double)
        case alreadyRunning(DaemonStatus)
    }

    func start(timeout: Double) throws -> StartOutcome {
        let client = ControlClient(paths: paths)
        if let s = client.status(), s.running {
            return .alreadyRunning(s)
        }
        let began = Date()
        var child: pid_t?
        if !sentinelLocked() {
            child = try spawnServe()
        }
        // Either our child or a daemon that is starting right now: wait for it to be ready.
        let deadline = began.addingTimeInterval(timeout)
        while Date() < deadline {
            if let s = client.status(timeout: 1), s.ready {
                return .started(s, seconds: Date().timeIntervalSince(began))
            }
            if let pid = child, let reason = exited(pid) {
                // Lost a race with a concurrent `start`: the other daemon holds the home; wait for it.
                if sentinelLocked() {
                    child = nil
                    continue
                }
                throw DaemonError(.failed, "the daemon exited during startup (\(reason)): \(startupError() ?? "see the log")\n\(logTail())",
                                  fix: nil)
            }
            usleep(25_000)
        }
        if let pid = child { kill(pid, SIGTERM) }
        throw DaemonError(.failed, "the daemon was not ready within \(Int(timeout)) s\n\(logTail())",
                          fix: nil)
    }

    /// Returns the stopped daemon's pid, or nil when none was running.
    func stop(timeout: Double) throws -> Int32? {
        guard sentinelLocked() else { return nil }
        let pid = Sentinel.peekPID(path: paths.sentinel)
        do {
            try ControlClient(paths: paths).requestShutdown()
        } catch {
            // Starting or wedged: fall back to the signal the control API would send.
            guard let pid else { throw error }
            kill(pid, SIGTERM)
        }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if !sentinelLocked() { return pid ?? 0 }
            usleep(20_000)
        }
        throw DaemonError(.failed, "the daemon (pid \(pid.map(String.init) ?? "?")) did not stop within \(Int(timeout)) s",
                          fix: "look at \(paths.logFile); `kill -9 \(pid.map(String.init) ?? "<pid>")` forces it (the next start counts an unclean shutdown)")
    }

    /// Whether a daemon holds the sentinel lock (running, starting or stopping).
    func sentinelLocked() -> Bool {
        let fd = open(paths.sentinel, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return gt_flock_exclusive_nb(fd) != 0
    }

    private func spawnServe() throws -> pid_t {
        let exe = Paths.ownExecutable
        try? FileManager.default.createDirectory(atPath: paths.logDir, withIntermediateDirectories: true)
        let out = open(paths.serveOutput, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard out >= 0 else {
            throw DaemonError(.environment, "cannot open \(paths.serveOutput): \(String(cString: strerror(errno)))", fix: "check the data directory's permissions")
        }
        defer { close(out) }
        let marker = "--- garagetytus start at \(UTCTime.iso8601Millis(Date())) ---\n"
        _ = marker.withCString { write(out, $0, strlen($0)) }
        let argv = [exe, "serve", "--no-log-stderr"]
        let env = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        let pid = withCStrings(argv) { a in withCStrings(env) { e in gt_spawn(exe, a, e, out, 1, 0) } }
        guard pid > 0 else {
            throw DaemonError(.environment, "cannot start \(exe): \(String(cString: strerror(-pid)))")
        }
        return pid
    }

    /// Why our child exited, or nil while it runs.
    private func exited(_ pid: pid_t) -> String? {
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
        let sig = status & 0x7f
        return sig == 0 ? "exit status \((status >> 8) & 0xff)" : "signal \(sig)"
    }

    /// The `error:` line the failed `serve` printed, if any.
    private func startupError() -> String? {
        LogTail.lines(of: paths.serveOutput, count: 20).last { $0.hasPrefix("error: ") }.map { String($0.dropFirst(7)) }
    }

    private func logTail() -> String {
        let lines = LogTail.lines(of: paths.logFile, count: 10)
        guard !lines.isEmpty else { return "(no log lines in \(paths.logFile))" }
        return "last log lines (\(paths.logFile)):\n" + lines.map { "  " + $0 }.joined(separator: "\n")
    }
}
