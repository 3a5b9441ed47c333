import Daemon
import Foundation
import S3
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What a writer under fault injection attempted and what was acknowledged, by content hash:
/// after the fault, every acknowledged write must read back with its bytes, and every other
/// attempted one must be either complete or absent — never torn.
public final class WriteLedger: Sendable {
    public struct Entry: Sendable {
        public var sha: String
        public var size: Int
        public var acked: Bool
    }
    private let entries = Mutex<[String: Entry]>([:])
    private let failures = Mutex<Int>(0)

    public init() {}

    public func attempt(_ key: String, _ data: Data) {
        entries.withLock { $0[key] = Entry(sha: SigV4.sha256Hex(data), size: data.count, acked: false) }
    }
    public func ack(_ key: String) { entries.withLock { $0[key]?.acked = true } }
    public func fail() { failures.withLock { $0 += 1 } }

    public var acked: Int { entries.withLock { $0.values.filter(\.acked).count } }
    public var failed: Int { failures.withLock { $0 } }
    public var attempted: Int { entries.withLock { $0.count } }
    public var ackedBytes: Int { entries.withLock { $0.values.filter(\.acked).reduce(0) { $0 + $1.size } } }

    /// Problems found reading every attempted key back with `read` (nil: absent); empty when
    /// nothing was lost or torn.
    public func verify(_ read: (String) throws -> Data?) rethrows -> [String] {
        var problems: [String] = []
        for (key, e) in entries.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            let data = try read(key)
            switch (data, e.acked) {
            case (nil, true): problems.append("\(key): acknowledged but absent")
            case (nil, false): break
            case (let d?, _) where SigV4.sha256Hex(d) != e.sha:
                problems.append("\(key): \(e.acked ? "acknowledged" : "unacknowledged") and torn (\(d.count) of \(e.size) bytes, wrong hash)")
            default: break
            }
        }
        return problems
    }

    /// Counts of `verify`'s problems: acknowledged writes that are absent (lost), and objects
    /// whose bytes are not the ones written (torn).
    public static func tally(_ problems: [String]) -> (lost: Int, torn: Int) {
        (problems.filter { $0.hasSuffix("acknowledged but absent") }.count, problems.filter { $0.contains(" torn (") }.count)
    }
}

/// Threads that loop until told to stop; `finish` waits for them, bounded.
public final class Workers: Sendable {
    private let stopped = Atomic<Bool>(false)
    private let group = DispatchGroup()

    public init(count: Int, _ body: @escaping @Sendable (_ worker: Int, _ iteration: Int) -> Void) {
        for w in 0..<count {
            group.enter()
            Thread.detachNewThread { [self] in
                var i = 0
                while !stopped.load(ordering: .relaxed) { body(w, i); i += 1 }
                group.leave()
            }
        }
    }

    public var isStopped: Bool { stopped.load(ordering: .relaxed) }

    /// Stops the loops and waits up to `timeout` seconds; false if one is still running.
    public func finish(timeout: Double) -> Bool {
        stopped.store(true, ordering: .relaxed)
        return group.wait(timeout: .now() + timeout) == .success
    }
}

/// `count` random bytes (incompressible, so a torn write cannot match by accident): SplitMix64
/// from a random seed, fast enough for 64 MiB objects.
public func randomData(_ count: Int) -> Data {
    var d = Data(count: count)
    var g = SplitMix64(state: UInt64.random(in: 0...UInt64.max))
    d.withUnsafeMutableBytes { p in
        let words = p.bindMemory(to: UInt64.self)
        for i in 0..<words.count { words[i] = g.next() }
        for i in (words.count * 8)..<p.count { p[i] = UInt8(truncatingIfNeeded: g.next()) }
    }
    return d
}

/// Reads `path` with open/read/close until EOF (as `cat` does): the bytes, or the errno of the failing call.
public func posixRead(_ path: String) -> Result<Data, POSIXError> {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return .failure(POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)) }
    defer { close(fd) }
    var out = Data()
    var buf = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = read(fd, &buf, buf.count)
        if n < 0 { return .failure(POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)) }
        if n == 0 { return .success(out) }
        out.append(contentsOf: buf[0..<n])
    }
}

/// Writes `data` to `path` with open/write/close and reports whether every call succeeded —
/// `close` included, which is where a mount uploads. errno of the failing call otherwise.
/// With `offset`, the file is opened without O_CREAT/O_TRUNC and `data` overwrites its bytes there.
public func posixWrite(_ path: String, _ data: Data, at offset: Int? = nil) -> Int32 {
    let fd = offset == nil ? open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644) : open(path, O_WRONLY)
    guard fd >= 0 else { return errno }
    var off = 0
    let err: Int32 = data.withUnsafeBytes { p in
        while off < p.count {
            let n = pwrite(fd, p.baseAddress! + off, min(1 << 20, p.count - off), off_t((offset ?? 0) + off))
            if n < 0 { return errno }
            off += n
        }
        return 0
    }
    if err != 0 { close(fd); return err }
    return close(fd) == 0 ? 0 : errno
}

/// The value of an unlabelled (or exactly labelled) line of Prometheus text, nil if absent.
public func metricValue(_ text: String, _ nameWithLabels: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(nameWithLabels + " ") {
        return Double(line.split(separator: " ").last ?? "")
    }
    return nil
}

/// A line of a mount's `.stats`, nil if the file cannot be read or has no such line.
public func mountStat(_ mountpoint: String, _ nameWithLabels: String) -> Double? {
    (try? String(contentsOfFile: mountpoint + "/.stats", encoding: .utf8)).flatMap { metricValue($0, nameWithLabels) }
}

extension DaemonHarness {
    /// The daemon's pid from `status --json`.
    public func daemonPID() throws -> Int32 {
        guard let pid = try status()["pid"] as? Int else { throw HarnessError("status has no pid") }
        return Int32(pid)
    }

    /// The engine's pid from `status --json`.
    public func enginePID() throws -> Int32 {
        guard let pid = (try status()["engine"] as? [String: Any])?["pid"] as? Int else { throw HarnessError("status has no engine pid") }
        return Int32(pid)
    }

    /// A client of the gateway with the grant's keys.
    public func gatewayClient(_ g: GrantEnvelope, retry: RetryPolicy = .none, timeout: Double = 30) -> S3Client {
        S3Client(endpoint: URL(string: gatewayURL)!, credentials: .init(accessKeyID: g.accessKey, secretAccessKey: g.secretKey),
                 retry: retry, timeout: timeout)
    }

    /// Mounts `bucket` through the gateway with the grant written to a 0600 file; returns the
    /// mountpoint (under the home) and the credentials file.
    public func mountWithGrant(_ g: GrantEnvelope, bucket: String, name: String = "mnt", endpoint: String? = nil, extra: [String] = []) throws -> (mountpoint: String, credentials: String) {
        let credentials = home + "/\(name)-grant.json"
        try JSONEncoder().encode(g).write(to: URL(fileURLWithPath: credentials))
        chmod(credentials, 0o600)
        let mnt = home + "/" + name
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        let r = try run(["mount", "--endpoint", endpoint ?? gatewayURL, "--bucket", bucket, "--credentials-file", credentials] + extra + [mnt])
        guard r.status == 0 else { throw HarnessError("mount failed: \(r.stderr)") }
        return (mnt, credentials)
    }

    /// The pid of the mount process at `mountpoint`, from the mount registry.
    public func mountPID(_ mountpoint: String) -> Int32? {
        let dir = paths.dataDir + "/mounts"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            guard let data = FileManager.default.contents(atPath: dir + "/" + name),
                  let record = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  record["mountpoint"] as? String == mountpoint, let pid = record["pid"] as? Int else { continue }
            return Int32(pid)
        }
        return nil
    }

    /// The text of every mount log under the home.
    public func mountLogs() -> String {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: paths.logDir)) ?? []).filter { $0.hasPrefix("mount-") }
        return names.compactMap { try? String(contentsOfFile: paths.logDir + "/" + $0, encoding: .utf8) }.joined()
    }

    /// Unmounts, lazily by force if the mount process is gone.
    public func forceUnmount(_ mountpoint: String) {
        _ = try? run(["unmount", mountpoint], timeout: 30)
        _ = try? Self.runProcess("/bin/umount", ["-l", mountpoint], env: [:], timeout: 10)
    }
}
