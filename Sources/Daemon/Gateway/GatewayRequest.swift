import Foundation
import S3

/// An incoming S3 request, split and checked before anything else looks at it: path-style
/// addressing, a key that is valid UTF-8 without NUL, control characters, `..` or empty segments and at
/// most 1024 bytes, and no query parameter given twice. Pure, so every refusal is a unit test.
public struct GatewayRequest: Sendable {
    public var method: String
    /// As sent (percent-encoded), for the signature.
    public var rawPath: String
    public var rawQuery: String
    /// Decoded.
    public var path: String
    public var query: [String: String]
    public var headers: [(String, String)]

    /// Query parameters that carry a signature; never forwarded to the engine.
    static let authQuery: Set<String> = ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
                                         "X-Amz-Signature", "X-Amz-Security-Token", "AWSAccessKeyId", "Signature", "Expires"]

    public struct Refusal: Error, Sendable, Equatable {
        public var status: Int
        public var code: String
        public var message: String
    }

    public init(method: String, uri: String, headers: [(String, String)]) throws {
        func refuse(_ code: String, _ message: String, status: Int = 400) -> Refusal { Refusal(status: status, code: code, message: message) }
        self.method = method
        self.headers = headers
        let q = uri.firstIndex(of: "?")
        rawPath = String(q.map { uri[..<$0] } ?? Substring(uri))
        rawQuery = q.map { String(uri[uri.index(after: $0)...]) } ?? ""
        guard rawPath.hasPrefix("/") else {
            throw refuse("InvalidURI", "the request target must be a path (path-style: /<bucket>/<key>)")
        }
        guard let decoded = Self.decode(rawPath) else {
            throw refuse("InvalidURI", "the path is not valid percent-encoded UTF-8")
        }
        path = decoded
        var bucket = Substring(decoded.dropFirst())
        var key = Substring("")
        if let slash = bucket.firstIndex(of: "/") {
            key = bucket[bucket.index(after: slash)...]
            bucket = bucket[..<slash]
        }
        if decoded.utf8.contains(0) { throw refuse("InvalidURI", "the object key contains a NUL byte") }
        if key.utf8.count > S3Key.maxBytes { throw refuse("KeyTooLongError", "the object key is longer than \(S3Key.maxBytes) bytes") }
        let segments = key.split(separator: "/", omittingEmptySubsequences: false)
        if segments.contains(where: { $0 == ".." || $0 == "." }) {
            throw refuse("InvalidURI", "the object key has a '.' or '..' path segment")
        }
        // The engine stores keys as paths: "a//b" would silently become "a/b".
        if segments.dropLast().contains(where: \.isEmpty) {
            throw refuse("InvalidURI", "the object key has an empty path segment ('//' or a leading '/')")
        }
        var query: [String: String] = [:]
        for item in rawQuery.split(separator: "&") {
            let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(String(kv[0])), let value = kv.count > 1 ? Self.decode(String(kv[1])) : "" else {
                throw refuse("InvalidArgument", "a query parameter is not valid percent-encoded UTF-8")
            }
            if query[name] != nil { throw refuse("InvalidArgument", "the query parameter \(name.prefix(64)) is given more than once") }
            query[name] = value
        }
        self.query = query
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name }?.1
    }

    public var signed: SignedRequest { SignedRequest(method: method, rawPath: rawPath, rawQuery: rawQuery, headers: headers) }

    /// The query to forward: without signature parameters, canonical (sorted, S3-encoded).
    public var forwardQuery: String { forwardQuery(dropping: []) }

    /// `forwardQuery` without the parameters named in `dropped` too (the gateway's own extensions).
    public func forwardQuery(dropping dropped: Set<String>) -> String {
        let kept = rawQuery.split(separator: "&").filter { item in
            let name = Self.decode(String(item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0])) ?? ""
            return !Self.authQuery.contains(name) && !dropped.contains(name)
        }
        return SigV4.canonicalQuery(kept.joined(separator: "&"))
    }

    /// Percent-decoding that fails on invalid UTF-8 (`+` stays `+`, as S3 clients encode spaces as %20).
    static func decode(_ s: String) -> String? {
        guard s.utf8.contains(UInt8(ascii: "%")) else { return s }
        return s.removingPercentEncoding
    }
}
