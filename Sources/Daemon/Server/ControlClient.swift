import Foundation
import S3
import Synchronization

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

    struct Refusal: Decodable { var code: String; var message: String; var fix: String? }

    /// A long call (`ControlServer.answerWithProgress`): `progress` hears each step as the daemon
    /// reports it; the result or the daemon's refusal comes at the end.
    public func jsonWithProgress<T: Decodable & Sendable>(_ method: String, _ path: String, body: [String: Any]? = nil, timeout: Double = 600,
                                                          as: T.Type, progress: @escaping @Sendable (String) -> Void) throws -> T {
        let outcome = ProgressLines<T>(progress)
        let r = try call(method, path + "?progress=1", body: try body.map { try JSONSerialization.data(withJSONObject: $0) }, timeout: timeout) { chunk in
            outcome.take(chunk)
            return true
        }
        let (result, refusal) = outcome.outcome
        if let refusal { throw refusal }
        guard let result else { throw DaemonError(.failed, "the daemon's answer to \(method) \(path) ended without a result (HTTP \(r.status))") }
        return result
    }

    /// `stream`: a 2xx body goes there as it arrives (a long call's lines).
    private func call(_ method: String, _ path: String, body: Data? = nil, timeout: Double,
                      stream: (@Sendable (UnsafeRawBufferPointer) -> Bool)? = nil) throws -> HTTPResponse {
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
            req.stream = stream
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

/// The lines of a long call's answer, as they arrive.
final class ProgressLines<T: Decodable & Sendable>: Sendable {
    private struct Line: Decodable { var progress: String?; var result: T?; var error: ControlClient.Refusal? }
    private let state = Mutex<(pending: Data, result: T?, refusal: DaemonError?)>((Data(), nil, nil))
    private let progress: @Sendable (String) -> Void

    init(_ progress: @escaping @Sendable (String) -> Void) { self.progress = progress }

    func take(_ chunk: UnsafeRawBufferPointer) {
        let lines = state.withLock { o -> [Line] in
            o.pending.append(contentsOf: chunk)
            var out: [Line] = []
            while let nl = o.pending.firstIndex(of: 0x0A) {
                if let l = try? DaemonStatus.decoder.decode(Line.self, from: o.pending[o.pending.startIndex..<nl]) { out.append(l) }
                o.pending = Data(o.pending[(nl + 1)...])
            }
            for l in out {
                if let r = l.result { o.result = r }
                if let e = l.error { o.refusal = DaemonError(.named(e.code), e.message, fix: e.fix) }
            }
            return out
        }
        for l in lines { if let p = l.progress { progress(p) } }
    }

    var outcome: (T?, DaemonError?) { state.withLock { ($0.result, $0.refusal) } }
}
