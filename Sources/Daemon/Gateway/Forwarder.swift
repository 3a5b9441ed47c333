import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import S3

/// Sends a checked request on to the engine, re-signed with the daemon's identity, and hands back
/// the engine's answer as a stream: bodies flow both ways with backpressure, never whole in memory.
final class Forwarder: Sendable {
    let client: HTTPClient
    let base: URL
    let credentials: S3Credentials
    let keys = SigningKeyCache()

    /// Request headers that belong to the client's hop or signature, never forwarded.
    static let dropped: Set<String> = ["authorization", "host", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token",
                                       "content-length", "transfer-encoding", "connection", "keep-alive", "expect", "te", "upgrade",
                                       "x-amz-decoded-content-length", "x-amz-trailer", "proxy-connection"]
    /// Response headers of the engine's hop.
    static let droppedResponse: Set<String> = ["connection", "keep-alive", "transfer-encoding", "server"]

    init(engine: URL, credentials: S3Credentials) {
        base = engine
        self.credentials = credentials
        var config = HTTPClient.Configuration()
        config.redirectConfiguration = .disallow
        config.decompression = .disabled
        config.timeout = .init(connect: .seconds(5), read: .seconds(300))
        config.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }

    func shutdown() async {
        try? await client.shutdown()
    }

    /// `path` is decoded (`/bucket/key`), `query` canonical; `headers` are the client's.
    func send(method: String, path: String, query: String, headers: [(String, String)],
              body: HTTPClientRequest.Body?) async throws -> HTTPClientResponse {
        let encodedPath = SigV4.canonicalURI(path)
        let urlText = base.absoluteString + encodedPath + (query.isEmpty ? "" : "?" + query)
        guard let url = URL(string: urlText) else {
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
        var request = HTTPClientRequest(url: urlText)
        request.method = HTTPMethod(rawValue: method)
        var fields = HTTPHeaders()
        for (n, v) in kept + auth { fields.add(name: n, value: v) }
        request.headers = fields
        if let body { request.body = body }
        return try await client.execute(request, timeout: .hours(24))
    }

    /// A small request of the gateway's own (HEAD of a copy source), body ignored.
    func head(bucket: String, key: String) async throws -> HTTPClientResponse {
        try await send(method: "HEAD", path: "/\(bucket)/\(key)", query: "", headers: [], body: nil)
    }
}
