import Daemon
import Foundation
import S3
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The front door is the only door (issue 15, ADR 0003): every port and socket the running engine
/// opens, read from the engine itself, is tried by `nobody` and by root without the daemon's keys —
/// read, write, delete, listing, assign and gRPC — while the daemon's own traffic keeps working.
@Suite struct EngineSealTests {
    @Test func nobodyOnTheHostReachesNoByteOfTheEngineExceptThroughAGrant() throws {
        let h = try DaemonHarness(name: "seal")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("sealed")
        let grant = try h.mintGrant("sealed")
        let put = try h.boto3(grant, "s3.put_object(Bucket='sealed', Key='secret.txt', Body=b'only through a grant'); print('ok')")
        #expect(put.stdout.contains("ok"), "\(put.stderr)")
        let pid = try #require(Int32(try String(contentsOfFile: h.paths.enginePidFile, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)))

        // Every listener of the engine, as the engine sees them (its own network namespace).
        let ports = try EngineListeners.tcpPorts(pid: pid)
        #expect(ports.count >= 6, "the engine listens on master, volume, filer, S3 and their gRPC ports: \(ports)")
        for p in [h.config.engine.filerPort, h.config.engine.masterPort, h.config.engine.volumePort, h.config.engine.s3Port] {
            #expect(ports.contains(p), "port \(p) not among the engine's listeners \(ports)")
        }
        let sockets = try EngineListeners.unixSockets(pid: pid)
        #expect(sockets.contains(h.paths.engineDir + "/s3.sock"), "\(sockets)")
        let grpc = sockets.filter { $0.contains("grpc") }
        #expect(grpc.count >= 3, "the engine's gRPC sockets: \(sockets)")
        // They exist only in the engine's own /tmp.
        for path in grpc { #expect(!FileManager.default.fileExists(atPath: path), "\(path) is on the host") }
        let files = try EngineListeners.files(under: h.paths.dataDir) + [h.paths.identityFile]
        #expect(files.contains { $0.hasSuffix(".dat") }, "a volume file holds the object: \(files.prefix(5))")

        // As nobody: not one connection, not one file.
        let asNobody = try EngineProbe.run(asNobody: true, tcp: ports, unix: sockets, files: files, bucket: "sealed", key: "secret.txt")
        for (target, results) in asNobody {
            for (action, outcome) in results {
                #expect(outcome.hasPrefix("refused"), "nobody: \(target) \(action): \(outcome)")
            }
        }
        #expect(asNobody.count == ports.count + sockets.count + files.count)

        // As root without the keys: no engine port and no gRPC socket exists on the host; the S3
        // socket wants the daemon's signature and the filer's wants a JWT signed with the engine's key.
        let asRoot = try EngineProbe.run(asNobody: false, tcp: ports, unix: sockets, files: [], bucket: "sealed", key: "secret.txt")
        #expect(asRoot.count == ports.count + sockets.count)
        // (A health answer — `/status` — carries no data and is left out.)
        for (target, results) in asRoot {
            for (action, outcome) in results where !action.hasSuffix(" status") {
                let refused = outcome.hasPrefix("refused") || outcome.hasPrefix("status 4") || outcome.hasPrefix("no grpc")
                #expect(refused, "root without keys: \(target) \(action): \(outcome)")
            }
        }
        #expect(asRoot["unix:" + h.paths.engineDir + "/filer.sock"]?["filer read"] == "status 401", "\(asRoot)")
        #expect(asRoot["unix:" + h.paths.engineDir + "/s3.sock"]?["s3 read"] == "status 403", "\(asRoot)")

        // The object is untouched and nothing was planted; the daemon's own calls still work.
        let engine = try h.engineClient()
        #expect(try engine.listAll(bucket: "sealed").objects.map(\.key) == ["secret.txt"])
        let get = try h.boto3(grant, "print(s3.get_object(Bucket='sealed', Key='secret.txt')['Body'].read().decode())")
        #expect(get.stdout.contains("only through a grant"), "\(get.stderr)")
        let repair = try h.run(["repair", "--json"], timeout: 60)
        #expect(repair.status == 0 && repair.stdout.contains("fs.verify"), "\(repair.stdout) \(repair.stderr)")
        #expect(!repair.stdout.contains("\"ok\" : false"), "\(repair.stdout)")
    }

    @Test func theEnginesPortsAreNotTakenOnTheHost() throws {
        // A sealed engine listens in its own namespace: a host process on its configured ports
        // neither blocks it nor receives its traffic.
        let h = try DaemonHarness(name: "sealp")
        defer { _ = try? h.run(["stop"]) }
        let squatter = try Listener(port: h.config.engine.s3Port)
        defer { squatter.close() }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("hosted")
        let grant = try h.mintGrant("hosted")
        let r = try h.boto3(grant, "s3.put_object(Bucket='hosted', Key='k', Body=b'v'); print(s3.get_object(Bucket='hosted', Key='k')['Body'].read().decode())")
        #expect(r.stdout.contains("v"), "\(r.stderr)")
        #expect(!squatter.hasPendingConnection)
    }
}

/// What a running engine listens on, read from /proc (its network namespace and its mount namespace).
enum EngineListeners {
    static func tcpPorts(pid: Int32) throws -> [Int] {
        var ports: Set<Int> = []
        for table in ["tcp", "tcp6"] {
            let text = (try? String(contentsOfFile: "/proc/\(pid)/net/\(table)", encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n").dropFirst() {
                let f = line.split(separator: " ", omittingEmptySubsequences: true)
                guard f.count > 3, f[3] == "0A", let colon = f[1].lastIndex(of: ":"), let port = Int(f[1][f[1].index(after: colon)...], radix: 16) else { continue }
                ports.insert(port)
            }
        }
        return ports.sorted()
    }

    /// The paths of the engine's listening Unix sockets, as the engine names them — what anyone
    /// on the host would try. (Its gRPC sockets are in its own /tmp, which the host does not show.)
    static func unixSockets(pid: Int32) throws -> [String] {
        let text = try String(contentsOfFile: "/proc/\(pid)/net/unix", encoding: .utf8)
        var found: Set<String> = []
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            // Flags 00010000: __SO_ACCEPTCON, a listening socket.
            guard f.count >= 8, f[3] == "00010000", f[7].hasPrefix("/") else { continue }
            found.insert(String(f[7]))
        }
        return found.sorted()
    }

    /// Every regular file under `dir`.
    static func files(under dir: String) throws -> [String] {
        var out: [String] = []
        let e = FileManager.default.enumerator(atPath: dir)
        while let rel = e?.nextObject() as? String {
            var st = stat()
            if lstat(dir + "/" + rel, &st) == 0, st.st_mode & S_IFMT == S_IFREG { out.append(dir + "/" + rel) }
        }
        return out
    }
}

/// Runs Tests/Fixtures/engineprobe.py, as `nobody` or as root.
enum EngineProbe {
    static func run(asNobody: Bool, tcp: [Int], unix: [String], files: [String], bucket: String, key: String) throws -> [String: [String: String]] {
        // A copy nobody can read: the checkout may be in a directory only root may enter.
        let dir = try DaemonHarness.makeTempDir(prefix: "/tmp/gt-probe-")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o755)
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/engineprobe.py").path
        let script = dir + "/engineprobe.py"
        try FileManager.default.copyItem(atPath: source, toPath: script)
        chmod(script, 0o644)
        let spec = try JSONSerialization.data(withJSONObject: ["tcp": tcp, "unix": unix, "files": files, "bucket": bucket, "key": key])
        let args = [script, String(decoding: spec, as: UTF8.self)]
        let r = asNobody
            ? try DaemonHarness.runProcess("/usr/sbin/runuser", ["-u", "nobody", "--", "/usr/bin/python3"] + args, env: [:], timeout: 120)
            : try DaemonHarness.runProcess("/usr/bin/python3", args, env: [:], timeout: 120)
        let parsed = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: [String: String]]
        return try #require(parsed, "probe: \(r.status) \(r.stdout.prefix(300)) \(r.stderr.prefix(500))")
    }
}

/// A daemon of an unprivileged user seals its engine too: in a user namespace that maps only that
/// user, with `weed shell` joining it for repairs.
@Suite struct UnprivilegedSealTests {
    @Test func aDaemonRunAsNobodySealsItsEngineInAUserNamespace() throws {
        let h = try DaemonHarness(name: "sealu")
        defer {
            _ = try? DaemonHarness.runProcess("/usr/sbin/runuser", ["-u", "nobody", "--", "/usr/bin/env", "GARAGETYTUS_HOME=\(h.home)",
                                                                   h.home + "/bin/garagetytus", "stop"], env: [:], timeout: 60)
        }
        // nobody's own copies of the binaries (the checkout and pip's weed may be where only root may go).
        let bin = h.home + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let weed = try WeedLocator.locate(configured: "", environment: ProcessInfo.processInfo.environment)
        try FileManager.default.copyItem(atPath: h.binary, toPath: bin + "/garagetytus")
        try FileManager.default.copyItem(atPath: weed, toPath: bin + "/weed")
        #expect(try DaemonHarness.runProcess("/bin/chown", ["-R", "nobody", h.home], env: [:], timeout: 30).status == 0)
        chmod(h.home, 0o755)
        func asNobody(_ args: [String]) throws -> DaemonHarness.Result {
            try DaemonHarness.runProcess("/usr/sbin/runuser", ["-u", "nobody", "--", "/usr/bin/env", "GARAGETYTUS_HOME=\(h.home)",
                                                              "GARAGETYTUS_WEED=\(bin)/weed", "PATH=/usr/bin:/bin", bin + "/garagetytus"] + args,
                                         env: [:], timeout: 90)
        }
        let started = try asNobody(["start"])
        #expect(started.status == 0, "\(started.stdout) \(started.stderr)")
        let pid = try #require(Int32(try String(contentsOfFile: h.paths.enginePidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8).contains("Uid:\t65534"), "the engine runs as nobody")
        let ports = try EngineListeners.tcpPorts(pid: pid)
        #expect(ports.contains(h.config.engine.s3Port), "\(ports)")
        let probe = try EngineProbe.run(asNobody: false, tcp: ports, unix: [], files: [], bucket: "x", key: "y")
        for (target, results) in probe { for (action, outcome) in results { #expect(outcome.hasPrefix("refused"), "\(target) \(action): \(outcome)") } }
        #expect(try asNobody(["bucket", "create", "theirs", "--ttl", "1h", "--quota", "1G"]).status == 0)
        let grant = try asNobody(["bucket", "grant", "theirs", "--to", "t", "--perms", "read,write,list", "--ttl", "1h", "--json"])
        let g = try JSONDecoder().decode(GrantEnvelope.self, from: Data(grant.stdout.utf8))
        let put = try h.boto3(g, "s3.put_object(Bucket='theirs', Key='k', Body=b'v'); print(s3.get_object(Bucket='theirs', Key='k')['Body'].read().decode())")
        #expect(put.stdout.contains("v"), "\(put.stderr)")
        let repair = try asNobody(["repair"])
        #expect(repair.status == 0 && repair.stdout.contains("engine fs.verify: verified 1 files"), "\(repair.stdout) \(repair.stderr)")
    }
}
