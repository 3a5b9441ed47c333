import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import S3

/// Sends a checked request on to the engine, re-signed with the daemon's identity, and hands back
/// the engine's answer as a stream: bodies flow both ways with backpressure, never whole in memory.
final class Forwarder: Sendable {
    let client: HTTPClient
    /// The engine's endpoint as requests are signed for it (its Host header).
    let base: URL
    /// Where requests go: `base`, or `http+unix://` with the engine's socket.
    let transport: String
    let credentials: S3Credentials
    let keys = SigningKeyCache()
    /// GET and HEAD go through connections that read in big pieces.
    let reader: EngineReader

    /// Request headers that belong to the client's hop or signature, never forwarded.
    static let dropped: Set<String> = ["authorization", "host", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token",
                                       "content-length", "transfer-encoding", "connection", "keep-alive", "expect", "te", "upgrade",
                                       "x-amz-decoded-content-length", "x-amz-trailer", "proxy-connection"]
    /// Response headers of the engine's hop.
    static let droppedResponse: Set<String> = ["connection", "keep-alive", "transfer-encoding", "server"]

    init(engine: URL, socket: String? = nil, credentials: S3Credentials) {
        base = engine
        let root = engine.absoluteString.hasSuffix("/") ? String(engine.absoluteString.dropLast()) : engine.absoluteString
        transport = socket.map { "http+unix://" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0) } ?? root
        self.credentials = credentials
        var config = HTTPClient.Configuration()
        config.redirectConfiguration = .disallow
        config.decompression = .disabled
        config.timeout = .init(connect: .seconds(5), read: .seconds(300))
        config.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
        reader = EngineReader(host: engine.host ?? "127.0.0.1", port: engine.port ?? 80, socketPath: socket)
    }

    func shutdown() async {
        reader.shutdown()
        try? await client.shutdown()
    }

    /// A bodyless request (GET, HEAD) whose answer is read ahead into a bounded buffer.
    func sendReadingAhead(method: String, path: String, query: String, headers: [(String, String)]) async throws
        -> (HTTPResponseHead, ResponseStream) {
        let (target, fields) = try prepare(method: method, path: path, query: query, headers: headers)
        return try await reader.send(HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: target, headers: fields))
    }

    /// `path` is decoded (`/bucket/key`), `query` canonical; `headers` are the client's.
    func send(method: String, path: String, query: String, headers: [(String, String)],
              body: HTTPClientRequest.Body?) async throws -> HTTPClientResponse {
        let (target, fields) = try prepare(method: method, path: path, query: query, headers: headers)
        var request = HTTPClientRequest(url: transport + target)
        request.method = HTTPMethod(rawValue: method)
        request.headers = fields
        if let body { request.body = body }
        return try await client.execute(request, timeout: .hours(24))
    }

    /// The request target (path and query) and the headers to send: the client's own (minus its
    /// hop and signature), re-signed, with the Host they are signed for.
    private func prepare(method: String, path: String, query: String, headers: [(String, String)]) throws -> (String, HTTPHeaders) {
        let target = SigV4.canonicalURI(path) + (query.isEmpty ? "" : "?" + query)
        let root = base.absoluteString.hasSuffix("/") ? String(base.absoluteString.dropLast()) : base.absoluteString
        guard let url = URL(string: root + target) else {
            throw GatewayRequest.Refusal(status: 400, code: "InvalidURI", message: "the request path cannot be forwarded")
        }
        var kept: [(String, String)] = []
        for (name, value) in headers {
            let n = name.lowercased()
            if Self.dropped.contains(n) { continue }
            if n == "content-encoding" {
                // aws-chunked is this hop's framing; the engine gets the decoded bytes.
                let rest = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0 != "aws-chunked" && !$0.isEmpty }
                if !rest.isEmpty { kept.append((n, rest.joined(separator: ","))) }
                continue
            }
            kept.append((n, value))
        }
        let auth = SigV4.sign(method: method, url: url, headers: kept, payloadHash: SigV4.unsignedPayload, credentials: credentials, keys: keys)
        var fields = HTTPHeaders()
        fields.add(name: "host", value: SigV4.hostHeader(base))
        for (n, v) in kept + auth { fields.add(name: n, value: v) }
        return (target, fields)
    }

    /// A small request of the gateway's own (HEAD of a copy source), body ignored.
    func head(bucket: String, key: String) async throws -> HTTPClientResponse {
        try await send(method: "HEAD", path: "/\(bucket)/\(key)", query: "", headers: [], body: nil)
    }
}
