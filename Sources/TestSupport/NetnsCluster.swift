import Daemon
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Hosts made of network namespaces this test creates, with a SeaweedFS cluster across them
/// (Tests/Fixtures/netns-cluster.sh): host 1 runs the master, the filer and the S3 server, hosts
/// 2…N a volume server each (replication 001). Addresses 10.77.x.i exist only inside them.
/// `down()` (also at deinit) kills every process the test started in them and deletes them.
public final class NetnsCluster: @unchecked Sendable {
    // SAFETY: set in init, never mutated.
    public let dir: String
    private let env: [String: String]
    public let hosts: Int

    /// Why no such hosts can be made here (not root, no `ip`, no network namespaces), or nil.
    public static let unavailable: String? = {
        guard geteuid() == 0 else { return "needs root for network namespaces" }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") || FileManager.default.isExecutableFile(atPath: "/sbin/ip") else {
            return "needs iproute2's ip"
        }
        let name = "gtprobe\(getpid())"
        guard let r = try? DaemonHarness.runProcess("/bin/sh", ["-c", "ip netns add \(name) && ip netns delete \(name)"],
                                                     env: ProcessInfo.processInfo.environment, timeout: 30), r.status == 0 else {
            return "network namespaces cannot be created here (ip netns add failed)"
        }
        return nil
    }()

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tests/Fixtures/netns-cluster.sh").path
    }

    public init(hosts: Int) throws {
        self.hosts = hosts
        let dir = try DaemonHarness.makeTempDir(prefix: "/tmp/gt-cluster-")
        self.dir = dir
        let status = FixtureScript.run(["up", dir, "\(hosts)"], log: dir + "/script.log", timeout: 180)
        guard status == 0 else {
            let logs = (try? FileManager.default.contentsOfDirectory(atPath: dir))?.filter { $0.hasSuffix(".log") }
                .map { "\($0): " + LogTailText.last(dir + "/" + $0, lines: 3) }.joined(separator: " | ") ?? ""
            let why = LogTailText.last(dir + "/script.log", lines: 3)
            _ = FixtureScript.run(["down", dir], log: dir + "/script.log", timeout: 60)
            throw DaemonError(.failed, "the test cluster did not come up (exit \(status.map(String.init) ?? "timeout")): \(why) \(logs)")
        }
        var e: [String: String] = [:]
        for line in (try String(contentsOfFile: dir + "/env", encoding: .utf8)).split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2 { e[kv[0]] = kv[1] }
        }
        env = e
    }

    deinit { down() }

    /// The namespace of host `i` (1…hosts) and its address.
    public func namespace(_ i: Int) -> String { env["HOST\(i)"] ?? "" }
    public func address(_ i: Int) -> String { env["ADDR\(i)"] ?? "" }
    /// A command prefix that runs a program in host `i`'s network only (files and mounts stay
    /// the test's own: a mount made there is seen here).
    public func on(_ i: Int) -> [String] { ["/usr/bin/nsenter", "--net=/var/run/netns/" + namespace(i)] }
    /// The cluster's admin S3 identity file (`{"access_key_id": …, "secret_access_key": …}`, 0600).
    public var identityFile: String { dir + "/identity.json" }
    /// The cluster's SeaweedFS security.toml: its filer signs (JWT for reads and writes).
    public var securityFile: String { env["SECURITY"] ?? "" }

    /// SIGKILLs one part of the cluster: "master", "filer", "s3", "volume<i>".
    public func kill(_ part: String) throws {
        guard FixtureScript.run(["kill", dir, part], log: dir + "/script.log", timeout: 30) == 0 else {
            throw DaemonError(.failed, "could not kill \(part) of the test cluster")
        }
    }

    /// Runs a program on host `i`; its result.
    @discardableResult
    public func run(on i: Int, _ args: [String], timeout: Double = 60) throws -> DaemonHarness.Result {
        let cmd = on(i) + args
        return try DaemonHarness.runProcess(cmd[0], Array(cmd.dropFirst()), env: ProcessInfo.processInfo.environment, timeout: timeout)
    }

    /// The namespaces this cluster made that still exist.
    public var namespacesLeft: [String] {
        let tag = (try? String(contentsOfFile: dir + "/tag", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "-"
        let r = try? DaemonHarness.runProcess("/usr/sbin/ip", ["netns", "list"], env: ProcessInfo.processInfo.environment, timeout: 30)
        return (r?.stdout ?? "").split(separator: "\n").map { String($0.split(separator: " ").first ?? "") }.filter { $0.hasSuffix(tag) }
    }

    /// Kills what was started on these hosts and deletes them (idempotent).
    public func down() {
        _ = FixtureScript.run(["down", dir], log: dir + "/script.log", timeout: 120)
        if ProcessInfo.processInfo.environment["GT_KEEP_HOMES"] == nil { try? FileManager.default.removeItem(atPath: dir) }
    }
}

/// Runs the fixture script with `posix_spawn` and `waitpid` (Foundation's Process missed the exit
/// of a script whose background children outlive it: its waitUntilExit never returned), its
/// output to `log`; the exit status, or nil after `timeout` (the script is then killed).
enum FixtureScript {
    static func run(_ args: [String], log: String, timeout: Double) -> Int32? {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = (["/bin/bash", NetnsCluster.script] + args).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        // SAFETY: argv and environ stay alive until posix_spawn returns; the child copies them.
        guard posix_spawn(&pid, "/bin/bash", &actions, nil, argv, environ) == 0 else { return nil }
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f) }
            if r < 0 && errno != EINTR { return nil }
            if Date() > deadline {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                return nil
            }
            usleep(50_000)
        }
    }
}

/// The last lines of a text file, joined (for a one-line failure message).
enum LogTailText {
    static func last(_ path: String, lines: Int) -> String {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").suffix(lines).joined(separator: " / ")
    }
}
