import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Tests/Fixtures/faultproxy.py in front of an S3 endpoint on 127.0.0.1: forwards requests and
/// injects 500s, 503 SlowDown, connection resets or stalls when told to.
public final class FaultProxy: @unchecked Sendable {
    // SAFETY: `process` is set once in init; the rest are constants.
    public let port: Int
    let control: String
    let events: String
    let process: Process

    public var url: String { "http://127.0.0.1:\(port)" }

    public init(upstreamPort: Int, dir: String) throws {
        port = try FreePorts.take(1)[0]
        control = dir + "/fault.json"
        events = dir + "/fault-events.log"
        try Data("{\"fault\": \"none\"}".utf8).write(to: URL(fileURLWithPath: control))
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tests/Fixtures/faultproxy.py").path
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, String(port), String(upstreamPort), control, events]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let port = port
        guard eventually(timeout: 10, { Self.accepts(port) }) else {
            process.terminate()
            throw HarnessError("the fault proxy did not start on port \(port)")
        }
    }

    deinit { stop() }

    public func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }

    /// From now on: `fault` ("none", "500", "503", "reset", "stall") for `count` requests
    /// (-1: all) whose "METHOD /path?query" contains `match`.
    public func inject(_ fault: String, count: Int = -1, match: String = "", seconds: Double = 5) throws {
        let c: [String: Any] = ["fault": fault, "count": count, "match": match, "seconds": seconds]
        let tmp = control + ".set"
        try JSONSerialization.data(withJSONObject: c).write(to: URL(fileURLWithPath: tmp))
        guard rename(tmp, control) == 0 else { throw HarnessError("cannot set the fault") }
    }

    /// One line per request seen: "<fault or ok> METHOD /path".
    public func seen() -> [String] {
        ((try? String(contentsOfFile: events, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    static func accepts(_ port: Int) -> Bool { (try? RawConnection(port: port)) != nil }
}
