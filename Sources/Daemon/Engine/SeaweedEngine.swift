import Credentials
import Foundation
import AsyncHTTPClient
import Logging
import S3
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The embedded engine: one `weed mini` process (master, volume, filer and S3 in one), bound to
/// loopback on the configured ports, with the daemon's identity as its only S3 user.
public final class SeaweedEngine: S3Engine, @unchecked Sendable {
    // SAFETY: all stored properties are immutable after init; the supervisor is itself thread-safe.
    public let kind = "seaweedfs-embedded"
    public let s3Endpoint: URL
    /// The Unix socket the daemon reaches a sealed engine's S3 through (nil: `s3Endpoint` over TCP).
    public let s3Socket: String?
    let paths: Paths
    let config: Config.Engine
    let listenAddress: String
    let weedPath: String
    let identity: EngineIdentity
    /// The daemon's client for the engine; health checks use `probe` (one attempt, short timeout).
    public let client: S3Client
    public let probe: S3Client
    let logger: Logger
    private let supervisor: ProcessSupervisor
    /// The filer's signing keys of the engine's current start.
    private let filerKeys = Mutex<EngineSeal.FilerKeys?>(nil)

    public init(paths: Paths, config: Config, identity: EngineIdentity, weedPath: String, logger: Logger,
                onEvent: @escaping @Sendable (EngineEvent) -> Void) {
        self.paths = paths
        self.config = config.engine
        self.listenAddress = "127.0.0.1"
        self.weedPath = weedPath
        self.logger = logger
        s3Endpoint = URL(string: "http://127.0.0.1:\(config.engine.s3Port)")!
        s3Socket = config.engine.sealed ? Self.s3SocketPath(paths) : nil
        self.identity = identity
        let creds = S3Credentials(accessKeyID: identity.accessKeyID, secretAccessKey: identity.secretAccessKey)
        client = S3Client(endpoint: s3Endpoint, credentials: creds, retry: RetryPolicy(maxAttempts: 3, budget: 10), timeout: 30,
                          unixSocket: s3Socket)
        probe = S3Client(endpoint: s3Endpoint, credentials: creds, retry: .none, timeout: 2, unixSocket: s3Socket)
        let env = ProcessInfo.processInfo.environment
        var childEnv: [String: String] = ["PATH": env["PATH"] ?? "/usr/bin:/bin", "HOME": paths.engineDir]
        if let tz = env["TZ"] { childEnv["TZ"] = tz }
        let spec = ProcessSupervisor.Spec(path: weedPath, arguments: Self.arguments(paths: paths, engine: config.engine),
                                          environment: childEnv, logPath: paths.engineLog, pidFile: paths.enginePidFile,
                                          isolation: config.engine.sealed ? .sealed(engineDir: paths.engineDir) : .none,
                                          workingDirectory: paths.engineDir, umask: 0o077)
        supervisor = ProcessSupervisor(spec: spec) { event in onEvent(EngineEvent(event)) }
    }

    /// `weed mini` flags: every port explicit, loopback only, telemetry, WebDAV, admin UI,
    /// Iceberg and Lance off, the identity file as the S3 configuration.
    static func arguments(paths: Paths, engine e: Config.Engine) -> [String] {
        // Logs to stderr only (the engine log), security.toml from the engine directory.
        ["-logtostderr", "-config_dir=\(paths.engineDir)", "mini",
         "-dir=\(paths.engineDir)",
         "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
         "-master.port=\(e.masterPort)", "-master.port.grpc=\(e.masterGrpcPort)",
         "-volume.port=\(e.volumePort)", "-volume.port.grpc=\(e.volumeGrpcPort)",
         "-filer.port=\(e.filerPort)", "-filer.port.grpc=\(e.filerGrpcPort)",
         "-s3.port=\(e.s3Port)", "-s3.port.grpc=\(e.s3GrpcPort)",
         "-s3.port.iceberg=0", "-s3.port.lance=0",
         "-admin.port=\(e.adminPort)", "-admin.port.grpc=\(e.adminGrpcPort)", "-admin.ui=false",
         "-webdav=false",
         "-master.telemetry=false", "-metricsPort=0",
         "-s3.config=\(paths.engineConfigFile)",
         "-filer.localSocket=\(filerSocketPath(paths))",
         "-s3.localSocket=\(s3SocketPath(paths))"]
    }

    static func s3SocketPath(_ paths: Paths) -> String { paths.engineDir + "/s3.sock" }
    static func filerSocketPath(_ paths: Paths) -> String { paths.engineDir + "/filer.sock" }

    /// The SeaweedFS S3 identity file: the daemon's key as the only (admin) identity.
    static func identityConfig(_ identity: EngineIdentity) throws -> Data {
        let doc: [String: Any] = ["identities": [[
            "name": "garagetytus-daemon",
            "credentials": [["accessKey": identity.accessKeyID, "secretKey": identity.secretAccessKey]],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        ]]]
        return try JSONSerialization.data(withJSONObject: doc, options: [.sortedKeys])
    }

    public func start() async throws {
        reapStaleEngine()
        rotateLogIfLarge()
        try SecretFile.write(try Self.identityConfig(identity), to: paths.engineConfigFile)
        let keys = try EngineSeal.prepare(paths: paths)
        filerKeys.withLock { $0 = keys }
        supervisor.start()
        let deadline = Date().addingTimeInterval(config.readyTimeoutSeconds)
        var sawProcess = false
        var lastFailure = "no answer yet"
        while Date() < deadline {
            guard let failure = await probeFailure() else { return }
            lastFailure = failure
            if let why = supervisor.spawnFailure, config.sealed, why.contains("unshare") || why.contains("uid_map") || why.contains("mount") {
                throw DaemonError(.environment, "cannot seal the engine in a network namespace of its own (\(why))",
                                  fix: "run the daemon as root, or allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1); "
                                      + "where neither is possible set engine.isolation = \"none\" in \(paths.configFile), which leaves the engine's ports open to every local user")
            }
            if let why = supervisor.spawnFailure {
                throw DaemonError(.failed, "the engine (weed) could not be started: \(why)", fix: "see \(paths.engineLog)")
            }
            let running = supervisor.currentPID != nil
            if running { sawProcess = true }
            if sawProcess && !running {
                throw DaemonError(.failed, "the engine (weed) exited during startup: \(lastLogLines(5))",
                                  fix: "see \(paths.engineLog); a port in use shows up there as \"address already in use\"")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw DaemonError(.failed, "the engine (weed) did not serve S3 on \(s3Endpoint) within \(Int(config.readyTimeoutSeconds)) s"
                              + " (last answer: \(lastFailure)); its log ends: \(lastLogLines(5))",
                          fix: "see \(paths.engineLog)")
    }

    public func stop() async {
        let grace = config.stopGraceSeconds
        await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread { [supervisor] in
                supervisor.stop(grace: grace)
                cont.resume()
            }
        }
    }

    public var currentPID: Int32? { supervisor.currentPID }

    public func filer(http: HTTPClient) -> FilerClient? {
        FilerClient(socket: Self.filerSocketPath(paths), client: http, readKey: { [self] in filerKeys.withLock { $0?.read } },
                    writeKey: { [self] in filerKeys.withLock { $0?.write } })
    }

    /// Last lines of the engine's log, joined for a one-line message.
    func lastLogLines(_ n: Int) -> String {
        LogTail.lines(of: paths.engineLog, count: n).joined(separator: " | ")
    }

    /// Kills an engine left behind by a daemon that died without stopping it.
    func reapStaleEngine() {
        guard let text = try? String(contentsOfFile: paths.enginePidFile, encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 else { return }
        defer { unlink(paths.enginePidFile) }
        guard let cmdline = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")) else { return }
        let args = String(decoding: cmdline, as: UTF8.self).split(separator: "\0").map(String.init)
        guard args.contains(where: { $0.hasSuffix("weed") }), args.contains("-dir=\(paths.engineDir)") else { return }
        logger.warning("reaping stale engine pid \(pid) left by a previous daemon")
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline && kill(pid, 0) == 0 { usleep(20_000) }
    }

    private func rotateLogIfLarge() {
        let attrs = try? FileManager.default.attributesOfItem(atPath: paths.engineLog)
        if let size = attrs?[.size] as? Int, size > 64 << 20 {
            _ = rename(paths.engineLog, paths.engineLog + ".1")
        }
    }
}

/// What the engine's supervisor reports.
public enum EngineEvent: Sendable {
    case spawned(pid: Int32, restart: Bool)
    case exited(pid: Int32, reason: String)
    case spawnFailed(reason: String)
    case backingOff(seconds: Double)

    init(_ e: ProcessSupervisor.Event) {
        switch e {
        case let .spawned(pid, restart): self = .spawned(pid: pid, restart: restart)
        case let .exited(pid, reason, _): self = .exited(pid: pid, reason: reason)
        case let .spawnFailed(reason): self = .spawnFailed(reason: reason)
        case let .backingOff(s): self = .backingOff(seconds: s)
        }
    }
}
