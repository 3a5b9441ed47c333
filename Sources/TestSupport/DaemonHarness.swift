import Daemon
import Foundation
import Synchronization
import S3
#if canImport(Glibc)
import Glibc
#endif

/// Runs the real `garagetytus` binary against its own home and free ports, and cleans up after
/// itself (daemon and engine killed, home removed) even when a test fails.
public final class DaemonHarness: @unchecked Sendable {
    // SAFETY: all properties are set in init and never mutated; tests use one harness per test.
    public let home: String
    public let paths: Paths
    public let config: Config
    public let binary: String
    /// What `run` puts before the binary (e.g. `nsenter --net=…`: the daemon on another host).
    public var wrapper: [String] = []

    /// A fresh home under /tmp (short: the control socket path must fit in sun_path), or `home`
    /// if given (a directory that exists, e.g. on a small tmpfs). `configure` adjusts the generated
    /// config; its ports are already free ones.
    public init(name: String = "t", home existing: String? = nil, configure: (inout Config) -> Void = { _ in }) throws {
        home = try existing ?? Self.makeTempDir(prefix: "/tmp/gt-\(name)-")
        paths = Paths(configDir: home + "/config", dataDir: home + "/data")
        var c = Config()
        let ports = try FreePorts.take(12)
        c.metricsPort = ports[0]
        c.engine.masterPort = ports[1]; c.engine.masterGrpcPort = ports[2]
        c.engine.volumePort = ports[3]; c.engine.volumeGrpcPort = ports[4]
        c.engine.filerPort = ports[5]; c.engine.filerGrpcPort = ports[6]
        c.engine.s3Port = ports[7]; c.engine.s3GrpcPort = ports[8]
        c.engine.adminPort = ports[9]; c.engine.adminGrpcPort = ports[10]
        c.gatewayPort = ports[11]
        c.watchdog.intervalSeconds = 0.5
        configure(&c)
        config = c
        try FileManager.default.createDirectory(atPath: paths.configDir, withIntermediateDirectories: true)
        try c.render().write(toFile: paths.configFile, atomically: true, encoding: .utf8)
        binary = Self.locateBinary("garagetytus")
    }

    deinit { cleanUp() }

    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs the CLI with this home; waits for it (bounded by `timeout`).
    @discardableResult
    public func run(_ args: [String], env extra: [String: String] = [:], timeout: Double = 90) throws -> Result {
        var env = ProcessInfo.processInfo.environment
        env["GARAGETYTUS_HOME"] = home
        for (k, v) in extra { env[k] = v }
        if let first = wrapper.first { return try Self.runProcess(first, Array(wrapper.dropFirst()) + [binary] + args, env: env, timeout: timeout) }
        return try Self.runProcess(binary, args, env: env, timeout: timeout)
    }

    /// Metrics text from the daemon's `/metrics`, or nil if it does not answer.
    public func metrics() -> String? {
        get("/metrics").flatMap { $0.status == 200 ? $0.text : nil }
    }

    public func get(_ path: String) -> HTTPResponse? {
        try? CurlHTTP.perform(HTTPRequest(url: "http://127.0.0.1:\(config.metricsPort)\(path)", timeout: 3))
    }

    /// The value of an unlabelled (or exactly labelled) metric line.
    public func metric(_ nameWithLabels: String) -> Double? {
        metrics().flatMap { metricValue($0, nameWithLabels) }
    }

    public func status() throws -> [String: Any] {
        let r = try run(["status", "--json"])
        return (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
    }

    /// The engine's internal S3 endpoint, as the daemon signs for it (a sealed engine is reached
    /// only through `engineSocket`).
    public var engineEndpoint: URL { URL(string: "http://127.0.0.1:\(config.engine.s3Port)")! }
    public var engineSocket: String? { config.engine.sealed ? paths.engineDir + "/s3.sock" : nil }

    /// An endpoint a tool (aws-cli, s3fs, a mount) can use with the daemon's own identity: the
    /// gateway, which lets that identity do anything (the engine itself has no TCP port on the host).
    public var adminEndpoint: URL { URL(string: "http://127.0.0.1:\(config.gatewayPort)")! }

    /// A client for the engine with the daemon's own identity (the home must be bootstrapped):
    /// what the engine itself holds, past the gateway.
    public func engineClient(retry: RetryPolicy = RetryPolicy()) throws -> S3Client {
        let id = try EngineIdentity.load(from: paths.identityFile)
        return S3Client(endpoint: engineEndpoint, credentials: .init(accessKeyID: id.accessKeyID, secretAccessKey: id.secretAccessKey),
                        retry: retry, unixSocket: engineSocket)
    }

    public func logText() -> String {
        (try? String(contentsOfFile: paths.logFile, encoding: .utf8)) ?? ""
    }

    /// Kills whatever this home left running and removes it.
    public func cleanUp() {
        for file in [paths.sentinel, paths.enginePidFile] {
            if let t = try? String(contentsOfFile: file, encoding: .utf8), let pid = Int32(t.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 {
                kill(pid, SIGKILL)
            }
        }
        // GT_KEEP_HOMES=1 keeps them (logs) for a look after a failure.
        if home.hasPrefix("/tmp/gt-") && ProcessInfo.processInfo.environment["GT_KEEP_HOMES"] == nil {
            try? FileManager.default.removeItem(atPath: home)
        }
    }

    // MARK: helpers

    public static func locateBinary(_ name: String) -> String {
        if let b = ProcessInfo.processInfo.environment["GARAGETYTUS_BIN_DIR"] { return b + "/" + name }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = (exe as NSString).deletingLastPathComponent
        // xctest bundles live in <bin>/X.xctest/... on some toolchains
        while !dir.isEmpty && dir != "/" {
            if FileManager.default.isExecutableFile(atPath: dir + "/" + name) { return dir + "/" + name }
            dir = (dir as NSString).deletingLastPathComponent
        }
        return name
    }

    /// A new directory `<prefix>XXXXXX`. Under `scripts/test.sh` (`GT_RUN_DIR` set) its path is
    /// also added to `$GT_RUN_DIR/homes`, so what a killed run left there (mounts, processes) can
    /// be ended by path without touching anything another run started.
    public static func makeTempDir(prefix: String) throws -> String {
        var template = Array((prefix + "XXXXXX").utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw DaemonError(.environment, "mkdtemp failed")
        }
        let dir = String(cString: p)
        if let run = ProcessInfo.processInfo.environment["GT_RUN_DIR"] {
            // One short line per write with O_APPEND: lines of parallel tests never interleave.
            let fd = open(run + "/homes", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
            if fd >= 0 {
                let line = Array((dir + "\n").utf8)
                _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
            }
        }
        return dir
    }

    public static func runProcess(_ path: String, _ args: [String], env: [String: String], timeout: Double) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let timer = DispatchWorkItem { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: timer)
        // Read stderr concurrently so neither pipe can fill up and block the child.
        // SAFETY: written by the reader before group.leave(), read only after group.wait().
        nonisolated(unsafe) var errBytes = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errBytes = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outBytes = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        timer.cancel()
        return Result(status: p.terminationStatus, stdout: String(decoding: outBytes, as: UTF8.self),
                      stderr: String(decoding: errBytes, as: UTF8.self))
    }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
public func eventually(timeout: Double, every: Double = 0.05, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    repeat {
        if try condition() { return true }
        usleep(useconds_t(every * 1_000_000))
    } while Date() < deadline
    return try condition()
}

/// Free TCP ports on 127.0.0.1, chosen below the kernel's ephemeral range (32768–60999 here) so
/// that no outgoing connection of a test running in parallel can take one between this check
/// and the engine's bind. `port + 10000` is free too (some SeaweedFS parts derive gRPC ports so).
public enum FreePorts {
    private static let claimed = Mutex<Set<Int>>([])

    public static func take(_ n: Int) throws -> [Int] {
        var ports: [Int] = []
        var attempts = 0
        while ports.count < n {
            attempts += 1
            guard attempts < 20_000 else { throw DaemonError(.environment, "cannot find \(n) free ports in 10000-21999") }
            let port = Int.random(in: 10_000..<22_000)
            let fresh = claimed.withLock { $0.insert(port).inserted && !$0.contains(port + 10_000) }
            guard fresh, canBind(port), canBind(port + 10_000) else { continue }
            claimed.withLock { _ = $0.insert(port + 10_000) }
            ports.append(port)
        }
        return ports
    }

    static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = UInt16(port).bigEndian
        sa.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &sa) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
