import Foundation
import S3

/// Talks to the running daemon over its control socket (the client side of `ControlServer`).
public struct ControlClient: Sendable {
    public let paths: Paths

    public init(paths: Paths) { self.paths = paths }

    /// The daemon's status, or nil when nothing answers on the socket.
    public func status(timeout: Double = 3) -> DaemonStatus? {
        guard FileManager.default.fileExists(atPath: paths.controlSocket) else { return nil }
        guard let r = try? CurlHTTP.perform(request("GET", "/v1/status", timeout: timeout)), r.status == 200 else { return nil }
        return try? DaemonStatus.decoder.decode(DaemonStatus.self, from: r.body)
    }

    public func repair() throws -> RepairReport {
        let r = try call("POST", "/v1/repair", timeout: 60)
        return try DaemonStatus.decoder.decode(RepairReport.self, from: r.body)
    }

    public func requestShutdown() throws {
        _ = try call("POST", "/v1/shutdown", timeout: 5)
    }

    /// A JSON call of the bucket/grant API; the daemon's refusals come back as its own `DaemonError`.
    public func json<T: Decodable>(_ method: String, _ path: String, body: [String: Any]? = nil, timeout: Double = 120, as: T.Type) throws -> T {
        let data = try body.map { try JSONSerialization.data(withJSONObject: $0) }
        let r = try call(method, path, body: data, timeout: timeout)
        do {
            return try JSONDecoder().decode(T.self, from: r.body)
        } catch {
            throw DaemonError(.failed, "the daemon's answer to \(method) \(path) is not what this CLI expects (\(error)); is it the same version?")
        }
    }

    private struct Refusal: Decodable { var code: String; var message: String; var fix: String? }

    private func call(_ method: String, _ path: String, body: Data? = nil, timeout: Double) throws -> HTTPResponse {
        let r: HTTPResponse
        guard FileManager.default.fileExists(atPath: paths.controlSocket) else {
            throw DaemonError(.notRunning, "the daemon is not running (no \(paths.controlSocket))", fix: "start it with `garagetytus start`")
        }
        do {
            var req = request(method, path, timeout: timeout)
            if let body {
                req.body = body
                req.headers.append(("Content-Type", "application/json"))
            }
            r = try CurlHTTP.perform(req)
        } catch {
            throw DaemonError(.notRunning, "the daemon does not answer on \(paths.controlSocket)", fix: "start it with `garagetytus start`")
        }
        if !(200..<300).contains(r.status), let refusal = try? JSONDecoder().decode(Refusal.self, from: r.body) {
            throw DaemonError(.named(refusal.code), refusal.message, fix: refusal.fix)
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
