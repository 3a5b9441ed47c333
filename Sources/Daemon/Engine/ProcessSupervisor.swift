import CGaragetytus
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Keeps one child process running. It spawns from a dedicated thread, because the parent-death
/// signal (`PR_SET_PDEATHSIG`) fires when the *forking thread* exits: a pool thread that retires
/// would take the child with it. The same thread waits for the child and respawns it with backoff.
final class ProcessSupervisor: @unchecked Sendable {
    // SAFETY: every mutable field below is read and written only with `cond` locked.
    struct Spec: Sendable {
        var path: String
        var arguments: [String]
        var environment: [String: String]
        var logPath: String
        var pidFile: String
        var isolation: Isolation = .none
        var workingDirectory: String?
        var umask: Int32 = -1
    }

    enum Event: Sendable {
        case spawned(pid: Int32, restart: Bool)
        case exited(pid: Int32, reason: String, ranFor: TimeInterval)
        case spawnFailed(reason: String)
        case backingOff(seconds: Double)
    }

    private let spec: Spec
    private let onEvent: @Sendable (Event) -> Void
    private let cond = NSCondition()
    private var stopping = false
    private var finished = false
    private var started = false
    private var pid: Int32?
    private var lastSpawnFailure: String?

    /// Backoff: 1 s doubling to 30 s; reset after the child stayed up for 30 s.
    static func backoffSeconds(attempt: Int) -> Double { min(30, pow(2, Double(max(0, attempt)))) }

    init(spec: Spec, onEvent: @escaping @Sendable (Event) -> Void) {
        self.spec = spec
        self.onEvent = onEvent
    }

    var currentPID: Int32? { cond.withLock { pid } }

    /// Why the last spawn failed before the child ran (namespaces refused, exec failed), if it did.
    var spawnFailure: String? { cond.withLock { lastSpawnFailure } }

    func start() {
        cond.withLock {
            precondition(!started, "ProcessSupervisor.start called twice")
            started = true
        }
        let t = Thread { [self] in loop() }
        t.name = "engine-supervisor"
        t.start()
    }

    /// SIGTERM, then SIGKILL after `grace` seconds; returns when the child is gone and the thread ended.
    func stop(grace: Double) {
        cond.lock()
        stopping = true
        cond.broadcast()
        if let p = pid { kill(-p, SIGTERM) }
        let killAt = Date().addingTimeInterval(grace)
        while !finished && started {
            if Date() >= killAt {
                if let p = pid { kill(-p, SIGKILL) }
                // SIGKILL cannot be ignored; waitpid returns promptly.
                _ = cond.wait(until: Date().addingTimeInterval(0.05))
            } else {
                _ = cond.wait(until: min(killAt, Date().addingTimeInterval(0.05)))
            }
        }
        cond.unlock()
    }

    private func loop() {
        var attempt = 0
        var everSpawned = false
        while true {
            if cond.withLock({ stopping }) { break }
            let spawnedAt = Date()
            switch spawnOnce() {
            case let .failure(reason):
                onEvent(.spawnFailed(reason: reason))
            case let .success(child):
                let killNow = cond.withLock { () -> Bool in
                    pid = child
                    return stopping
                }
                if killNow { kill(-child, SIGKILL) }
                try? "\(child)\n".write(toFile: spec.pidFile, atomically: true, encoding: .utf8)
                onEvent(.spawned(pid: child, restart: everSpawned))
                everSpawned = true
                let reason = waitForExit(child)
                cond.withLock { pid = nil }
                unlink(spec.pidFile)
                let ranFor = Date().timeIntervalSince(spawnedAt)
                onEvent(.exited(pid: child, reason: reason, ranFor: ranFor))
                if ranFor > 30 { attempt = 0 }
            }
            cond.lock()
            if stopping { cond.unlock(); break }
            let delay = Self.backoffSeconds(attempt: attempt)
            attempt += 1
            cond.unlock()
            onEvent(.backingOff(seconds: delay))
            cond.lock()
            let until = Date().addingTimeInterval(delay)
            while !stopping && Date() < until { _ = cond.wait(until: until) }
            cond.unlock()
        }
        cond.withLock {
            finished = true
            cond.broadcast()
        }
    }

    private enum SpawnResult { case success(Int32), failure(String) }

    private func spawnOnce() -> SpawnResult {
        let logFD = open(spec.logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        defer { if logFD >= 0 { close(logFD) } }
        let request = SpawnRequest(path: spec.path, arguments: spec.arguments, environment: spec.environment,
                                   outputFD: logFD, parentDeathSignal: SIGKILL, isolation: spec.isolation,
                                   workingDirectory: spec.workingDirectory, umask: spec.umask)
        switch Spawn.start(request) {
        case let .success(pid):
            cond.withLock { lastSpawnFailure = nil }
            return .success(pid)
        case let .failure(f):
            cond.withLock { lastSpawnFailure = f.description }
            return .failure(f.description)
        }
    }

    private func waitForExit(_ child: Int32) -> String {
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 {
            if errno != EINTR { return "waitpid failed: \(String(cString: strerror(errno)))" }
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros; decode the status word by hand.
        let sig = status & 0x7f
        if sig == 0 {
            let code = (status >> 8) & 0xff
            return code == 127 ? "exited with status 127 (exec failed)" : "exited with status \(code)"
        }
        return "killed by signal \(sig)"
    }
}

/// Calls `body` with a NULL-terminated C array of C strings that lives for the call.
public func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    // SAFETY: strdup'd copies are freed after `body` returns; `body` must not keep the pointers.
    var ptrs: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    ptrs.append(nil)
    defer { for p in ptrs { free(p) } }
    return ptrs.withUnsafeBufferPointer { body($0.baseAddress!) }
}
