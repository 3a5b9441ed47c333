import CGaragetytus
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How a child process is set apart from the host (ADR 0003).
enum Isolation: Sendable, Equatable {
    case none
    /// A network namespace of its own (only a loopback interface: none of its ports exist on the
    /// host) and a mount namespace whose /tmp is a tmpfs no other process sees (the gRPC sockets
    /// SeaweedFS opens there); `keep`, a directory under the host's /tmp, is bound back into place.
    case sealed(keep: String?)
    /// The network namespace of a running (sealed) process: `weed shell` reaching the engine.
    case joining(pid: Int32)

    /// The sealed layout for an engine whose files are all under `dir`.
    static func sealed(engineDir dir: String) -> Isolation {
        let resolved = URL(fileURLWithPath: dir).resolvingSymlinksInPath().path
        let tmp = URL(fileURLWithPath: "/tmp").resolvingSymlinksInPath().path
        let under = Set(["/tmp", tmp]).contains { resolved.hasPrefix($0 + "/") }
        return .sealed(keep: under ? resolved : nil)
    }
}

/// One child to start with `gt_spawn_ex`.
struct SpawnRequest: Sendable {
    var path: String
    var arguments: [String]
    var environment: [String: String]
    var stdinFD: Int32 = -1
    var outputFD: Int32 = -1
    /// stderr apart from stdout: to this descriptor, or to /dev/null when it is -1 (nil: with stdout).
    var errorFD: Int32? = nil
    var newSession = false
    var parentDeathSignal: Int32 = 0
    var isolation: Isolation = .none
    var workingDirectory: String?
    var umask: Int32 = -1
}

enum Spawn {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Forks and execs; the child's set-up (namespaces, directories) is done before this returns,
    /// and a step that failed is reported with its errno instead of a pid.
    static func start(_ r: SpawnRequest) -> Result<Int32, Failure> {
        let argv = [r.path] + r.arguments
        let envp = r.environment.map { "\($0.key)=\($0.value)" }
        var strings: [String] = []
        var o = gt_spawn_options()
        o.in_fd = r.stdinFD
        o.out_fd = r.outputFD
        if let e = r.errorFD {
            o.separate_err = 1
            o.err_fd = e
        }
        o.new_session = r.newSession ? 1 : 0
        o.parent_death_signal = r.parentDeathSignal
        o.umask_value = r.umask
        o.failed_step = -1
        switch r.isolation {
        case .none: o.isolate = Int32(GT_ISOLATE_NONE)
        case let .sealed(keep):
            o.isolate = Int32(GT_ISOLATE_PRIVATE)
            o.private_tmp = 1
            strings = [keep ?? ""]
        case let .joining(pid):
            o.isolate = Int32(GT_ISOLATE_JOIN)
            o.join_pid = pid
        }
        let cwd = r.workingDirectory
        let pid = withCStrings(strings + [cwd ?? ""]) { list in
            // SAFETY: the C strings live until withCStrings returns, and gt_spawn_ex uses them only
            // before it returns (the child copies what it needs by exec).
            if strings.count == 1 && !strings[0].isEmpty { o.keep_src = UnsafePointer(list[0]) }
            if cwd != nil { o.cwd = UnsafePointer(list[strings.count]) }
            return withCStrings(argv) { cArgv in
                withCStrings(envp) { cEnv in gt_spawn_ex(r.path, cArgv, cEnv, &o) }
            }
        }
        if pid < 0 { return .failure(Failure(description: "cannot spawn \(r.path): \(String(cString: strerror(-pid)))")) }
        if o.failed_step >= 0 {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            let step = String(cString: gt_spawn_step_name(o.failed_step))
            return .failure(Failure(description: "cannot start \(r.path): \(step) failed: \(String(cString: strerror(o.failed_errno)))"))
        }
        return .success(pid)
    }
}
