import CGaragetytus
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How a child process is set apart from the host (ADR 0003).
enum Isolation: Sendable, Equatable {
    case none
    /// A network namespace of its own (only a loopback interface: none of its ports exist on the
    /// host) and a mount namespace whose /tmp is `privateTmp`; `keep` is bound at `keepAt` inside
    /// it first, so a directory under the host's /tmp stays where the child expects it.
    case sealed(privateTmp: String, keep: String?, keepAt: String?)
    /// The network namespace of a running (sealed) process: `weed shell` reaching the engine.
    case joining(pid: Int32)

    /// The sealed layout for an engine whose files are all under `dir`: its /tmp is `dir/tmp`.
    static func sealed(engineDir dir: String) -> Isolation {
        let privateTmp = dir + "/tmp"
        let real = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/tmp")).map { $0.hasPrefix("/") ? $0 : "/" + $0 } ?? "/tmp"
        let resolved = URL(fileURLWithPath: dir).resolvingSymlinksInPath().path
        for root in Set(["/tmp", real]) where resolved == root || resolved.hasPrefix(root + "/") {
            return .sealed(privateTmp: privateTmp, keep: resolved, keepAt: privateTmp + resolved.dropFirst(root.count))
        }
        return .sealed(privateTmp: privateTmp, keep: nil, keepAt: nil)
    }
}

/// One child to start with `gt_spawn_ex`.
struct SpawnRequest: Sendable {
    var path: String
    var arguments: [String]
    var environment: [String: String]
    var stdinFD: Int32 = -1
    var outputFD: Int32 = -1
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
        if case let .sealed(privateTmp, _, keepAt) = r.isolation {
            for dir in [privateTmp, keepAt].compactMap({ $0 }) {
                do {
                    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                    chmod(privateTmp, 0o700)
                } catch {
                    return .failure(Failure(description: "cannot create \(dir): \(error)"))
                }
            }
        }
        let argv = [r.path] + r.arguments
        let envp = r.environment.map { "\($0.key)=\($0.value)" }
        var strings: [String] = []
        var o = gt_spawn_options()
        o.in_fd = r.stdinFD
        o.out_fd = r.outputFD
        o.new_session = r.newSession ? 1 : 0
        o.parent_death_signal = r.parentDeathSignal
        o.umask_value = r.umask
        o.failed_step = -1
        switch r.isolation {
        case .none: o.isolate = Int32(GT_ISOLATE_NONE)
        case let .sealed(privateTmp, keep, keepAt):
            o.isolate = Int32(GT_ISOLATE_PRIVATE)
            strings = [privateTmp, keep ?? "", keepAt ?? ""]
        case let .joining(pid):
            o.isolate = Int32(GT_ISOLATE_JOIN)
            o.join_pid = pid
        }
        let cwd = r.workingDirectory
        let pid = withCStrings(strings + [cwd ?? ""]) { list in
            // SAFETY: the C strings live until withCStrings returns, and gt_spawn_ex uses them only
            // before it returns (the child copies what it needs by exec).
            if strings.count == 3 {
                o.private_tmp = UnsafePointer(list[0])
                if !(strings[1].isEmpty) { o.keep_src = UnsafePointer(list[1]); o.keep_dst = UnsafePointer(list[2]) }
            }
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
