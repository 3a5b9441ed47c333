import Daemon
import Foundation
import S3

/// Talks to the running daemon over its control socket.
struct ControlClient {
    let paths: Paths

    /// The daemon's status, or nil when nothing answers on the socket.
    func status(timeout: Double = 3) -> DaemonStatus? {
        guard FileManager.default.fileExists(atPath: paths.controlSocket) else { return nil }
        guard let r = try? CurlHTTP.perform(request("GET", "/v1/status", timeout: timeout)), r.status == 200 else { return nil }
        return try? DaemonStatus.decoder.decode(DaemonStatus.self, from: r.body)
    }

    func repair() throws -> RepairReport {
        let r = try call("POST", "/v1/repair", timeout: 60)
        return try DaemonStatus.decoder.decode(RepairReport.self, from: r.body)
    }

    func requestShutdown() throws {
        _ = try call("POST", "/v1/shutdown", timeout: 5)
    }

    private func call(_ method: String, _ path: String, timeout: Double) throws -> HTTPResponse {
        let r: HTTPResponse
        do {
            r = try CurlHTTP.perform(request(method, path, timeout: timeout))
        } catch {
            throw DaemonError(.notRunning, "the daemon does not answer on \(paths.controlSocket)", fix: "start it with `garagetytus start`")
        }
        guard (200..<300).contains(r.status) else {
            throw DaemonError(.failed, "the daemon answered \(method) \(path) with HTTP \(r.status): \(r.text)")
        }
        return r
    }

    private func request(_ method: String, _ path: String, timeout: Double) -> HTTPRequest {
        HTTPRequest(method: method, url: "http://garagetytus\(path)", unixSocket: paths.controlSocket, timeout: timeout)
    }
}
