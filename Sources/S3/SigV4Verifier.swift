import Crypto
import Foundation

/// An incoming request as the verifier needs it: the method, the path and query exactly as they
/// were sent (still percent-encoded), and the headers.
public struct SignedRequest: Sendable {
    public var method: String
    public var rawPath: String
    public var rawQuery: String
    public var headers: [(String, String)]

    public init(method: String, rawPath: String, rawQuery: String, headers: [(String, String)]) {
        self.method = method
        self.rawPath = rawPath
        self.rawQuery = rawQuery
        self.headers = headers
    }

    public func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.first { $0.0.lowercased() == n }?.1
    }
}

/// Why a request's signature was not accepted: the S3 error code and a message a person can act on.
public struct SigV4Rejection: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: String
    public var message: String
    public var description: String { "\(code): \(message)" }
}

/// What a verified request was signed with.
public struct SigV4Verified: Sendable {
    public var accessKeyID: String
    /// `x-amz-date` (or `X-Amz-Date`), `yyyyMMdd'T'HHmmss'Z'`; the verification time for SigV2 URLs.
    public var amzDate: String
    /// `<day>/<region>/s3/aws4_request`; empty for a SigV2 presigned URL.
    public var scope: String
    /// The declared payload hash: hex SHA-256, `UNSIGNED-PAYLOAD`, or `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`
    /// (then every chunk is signed, starting from `signature`).
    public var payloadHash: String
    public var signature: String
    public var signingKey: SymmetricKey
    public var presigned: Bool
}

/// AWS Signature V4 verification for the S3 front door: the `Authorization` header and presigned
/// URLs, with a clock-skew window, an expiry cap and constant-time comparison. The canonical
/// request is built by the same code that signs (`SigV4`), so both sides agree by construction.
public struct SigV4Verifier: Sendable {
    public static let streamingPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    /// The secret of an access key, or nil when the key is unknown.
    public var secret: @Sendable (String) -> String?
    public var now: @Sendable () -> Date
    public var maxSkew: TimeInterval = 15 * 60
    public var maxExpires = 7 * 24 * 3600

    public init(secret: @escaping @Sendable (String) -> String?, now: @escaping @Sendable () -> Date = { Date() }) {
        self.secret = secret
        self.now = now
    }

    public func verify(_ r: SignedRequest) throws -> SigV4Verified {
        // Two values of what decides the signature's meaning would leave it to chance which counts.
        for name in ["authorization", "x-amz-date", "x-amz-content-sha256", "host", "date"]
        where r.headers.lazy.filter({ $0.0.lowercased() == name }).count > 1 {
            throw SigV4Rejection(code: "InvalidArgument", message: "the header \(name) is given more than once")
        }
        if let auth = r.header("authorization") { return try verifyHeader(r, auth) }
        if r.rawQuery.contains("X-Amz-Signature=") { return try verifyPresigned(r) }
        if r.rawQuery.contains("AWSAccessKeyId=") && r.rawQuery.contains("Signature=") { return try verifyPresignedV2(r) }
        throw SigV4Rejection(code: "AccessDenied", message: "the request is not signed (no Authorization header and no presigned query)")
    }

    private func verifyHeader(_ r: SignedRequest, _ auth: String) throws -> SigV4Verified {
        guard auth.hasPrefix(SigV4.algorithm + " ") else {
            throw SigV4Rejection(code: "AuthorizationHeaderMalformed", message: "only \(SigV4.algorithm) signatures are accepted")
        }
        var fields: [String: String] = [:]
        for part in auth.dropFirst(SigV4.algorithm.count + 1).split(separator: ",") {
            let kv = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
        }
        guard let credential = fields["Credential"], let signed = fields["SignedHeaders"], let signature = fields["Signature"] else {
            throw SigV4Rejection(code: "AuthorizationHeaderMalformed", message: "the Authorization header needs Credential, SignedHeaders and Signature")
        }
        guard let amzDate = r.header("x-amz-date") else {
            throw SigV4Rejection(code: "AccessDenied", message: "the request has no x-amz-date header")
        }
        let hasBody = (r.header("content-length").flatMap { Int($0) } ?? 0) > 0 || r.header("transfer-encoding") != nil
        // curl --aws-sigv4 (7.x) signs without the header: a request without a body then signs the empty payload.
        guard let payloadHash = r.header("x-amz-content-sha256") ?? (hasBody ? nil : SigV4.emptySHA256) else {
            throw SigV4Rejection(code: "InvalidRequest",
                                 message: "a request with a body needs an x-amz-content-sha256 header (with curl --aws-sigv4 add -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD')")
        }
        let date = try parseDate(amzDate)
        if abs(date.timeIntervalSince(now())) > maxSkew {
            throw SigV4Rejection(code: "RequestTimeTooSkewed",
                                 message: "the request was signed at \(amzDate), more than \(Int(maxSkew / 60)) minutes from the server's clock")
        }
        return try check(r, credential: credential, signedHeaders: signed, signature: signature, amzDate: amzDate,
                         payloadHash: payloadHash, query: r.rawQuery, presigned: false)
    }

    /// The query's parameters as sent: names raw, values percent-decoded (nil when there is no `=`).
    static func queryItems(_ rawQuery: String) -> [(name: String, value: String?)] {
        rawQuery.split(separator: "&").map { item in
            let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(kv[0]), kv.count > 1 ? (String(kv[1]).removingPercentEncoding ?? String(kv[1])) : nil)
        }
    }

    /// `queryItems` by name (the last one wins), a missing value as "".
    static func queryMap(_ rawQuery: String) -> [String: String] {
        var q: [String: String] = [:]
        for item in queryItems(rawQuery) { q[item.name] = item.value ?? "" }
        return q
    }

    private func verifyPresigned(_ r: SignedRequest) throws -> SigV4Verified {
        let q = Self.queryMap(r.rawQuery)
        guard q["X-Amz-Algorithm"] == SigV4.algorithm else {
            throw SigV4Rejection(code: "AuthorizationQueryParametersError", message: "X-Amz-Algorithm must be \(SigV4.algorithm)")
        }
        guard let credential = q["X-Amz-Credential"], let amzDate = q["X-Amz-Date"], let signed = q["X-Amz-SignedHeaders"],
              let signature = q["X-Amz-Signature"], let expiresText = q["X-Amz-Expires"] else {
            throw SigV4Rejection(code: "AuthorizationQueryParametersError",
                                 message: "a presigned URL needs X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature")
        }
        guard let expires = Int(expiresText), expires > 0, expires <= maxExpires else {
            throw SigV4Rejection(code: "AuthorizationQueryParametersError", message: "X-Amz-Expires must be between 1 and \(maxExpires) seconds (7 days)")
        }
        let date = try parseDate(amzDate)
        let t = now()
        if t.timeIntervalSince(date) > Double(expires) {
            throw SigV4Rejection(code: "AccessDenied", message: "the presigned URL expired at \(UTCTime.iso8601Millis(date.addingTimeInterval(Double(expires))))")
        }
        if date.timeIntervalSince(t) > maxSkew {
            throw SigV4Rejection(code: "AccessDenied", message: "the presigned URL is dated \(amzDate), in the future")
        }
        let query = r.rawQuery.split(separator: "&").filter { !$0.hasPrefix("X-Amz-Signature=") }.joined(separator: "&")
        let payloadHash = r.header("x-amz-content-sha256") ?? SigV4.unsignedPayload
        return try check(r, credential: credential, signedHeaders: signed, signature: signature, amzDate: amzDate,
                         payloadHash: payloadHash, query: query, presigned: true)
    }

    private func check(_ r: SignedRequest, credential: String, signedHeaders: String, signature: String, amzDate: String,
                       payloadHash: String, query: String, presigned: Bool) throws -> SigV4Verified {
        let parts = credential.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, parts[4] == "aws4_request", parts[3] == "s3", !parts[0].isEmpty else {
            throw SigV4Rejection(code: "AuthorizationHeaderMalformed", message: "the credential must be <key>/<yyyyMMdd>/<region>/s3/aws4_request")
        }
        guard parts[1] == String(amzDate.prefix(8)) else {
            throw SigV4Rejection(code: "AuthorizationHeaderMalformed", message: "the credential's date \(parts[1]) is not the request's date \(amzDate.prefix(8))")
        }
        guard let secret = secret(parts[0]) else {
            throw SigV4Rejection(code: "InvalidAccessKeyId", message: "the access key \(Self.mask(parts[0])) is not known here")
        }
        let names = signedHeaders.split(separator: ";").map { $0.lowercased() }
        guard names.contains("host") else {
            throw SigV4Rejection(code: "AuthorizationHeaderMalformed", message: "the host header must be signed")
        }
        for n in names where r.header(n) == nil {
            throw SigV4Rejection(code: "AuthorizationHeaderMalformed", message: "the signed header \(n) is missing from the request")
        }
        if presigned {
            // As AWS does: a presigned URL signs only what its signer chose (often only host), so an
            // x-amz-* header its holder adds (x-amz-copy-source turns a PUT into a copy; tagging,
            // metadata, ACLs) must have been signed. The payload hash describes the body, which is
            // checked against it.
            let unsigned = Set(r.headers.map { $0.0.lowercased() }.filter { $0.hasPrefix("x-amz-") && $0 != "x-amz-content-sha256" && !names.contains($0) })
            if !unsigned.isEmpty {
                throw SigV4Rejection(code: "AccessDenied",
                                     message: "There were headers present in the request which were not signed: \(unsigned.sorted().joined(separator: ", ").prefix(200))")
            }
        }
        let path = r.rawPath.isEmpty ? "/" : (r.rawPath.removingPercentEncoding ?? r.rawPath)
        let canonical = SigV4.canonicalRequest(method: r.method, path: path, rawQuery: query, headers: r.headers,
                                               signedHeaders: names, payloadHash: payloadHash)
        let scope = parts[1...4].joined(separator: "/")
        let key = SigV4.signingKey(secret: secret, day: parts[1], region: parts[2], service: parts[3])
        let expected = SigV4.hex(HMAC<SHA256>.authenticationCode(
            for: Data(SigV4.stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: canonical).utf8), using: key))
        guard Self.constantTimeEqual(expected, signature.lowercased()) else {
            throw SigV4Rejection(code: "SignatureDoesNotMatch",
                                 message: "the signature does not match: check the secret key of \(Self.mask(parts[0])) and the signing method")
        }
        return SigV4Verified(accessKeyID: parts[0], amzDate: amzDate, scope: scope, payloadHash: payloadHash, signature: expected,
                             signingKey: key, presigned: presigned)
    }

    private func parseDate(_ amzDate: String) throws -> Date {
        let b = Array(amzDate.utf8)
        guard b.count == 16, b[8] == UInt8(ascii: "T"), b[15] == UInt8(ascii: "Z") else {
            throw SigV4Rejection(code: "AccessDenied", message: "the request date \(amzDate) is not yyyyMMdd'T'HHmmss'Z'")
        }
        guard let d = UTCTime.parseAmzDate(amzDate) else {
            throw SigV4Rejection(code: "AccessDenied", message: "the request date \(amzDate) is not a valid time")
        }
        return d
    }

    /// The signature of the next chunk of an aws-chunked body (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`).
    public static func chunkSignature(previous: String, chunk: Data, verified v: SigV4Verified) -> String {
        let toSign = ["AWS4-HMAC-SHA256-PAYLOAD", v.amzDate, v.scope, previous, SigV4.emptySHA256,
                      SigV4.sha256Hex(chunk)].joined(separator: "\n")
        return SigV4.hex(HMAC<SHA256>.authenticationCode(for: Data(toSign.utf8), using: v.signingKey))
    }

    /// Equal strings, compared in time that depends only on their lengths.
    public static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<x.count { diff |= x[i] ^ y[i] }
        return diff == 0
    }

    static func mask(_ key: String) -> String {
        key.count <= 8 ? "****" : "\(key.prefix(4))***\(key.suffix(4))"
    }
}
