import Crypto
import Foundation
import Synchronization

/// An S3 access key pair.
public struct S3Credentials: Sendable, Equatable {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }
}

/// AWS Signature Version 4 for S3: canonical request, string to sign, signing key, signature.
/// The pieces are public so that the gateway's verifier (S3 front door) computes exactly the same.
public enum SigV4 {
    public static let algorithm = "AWS4-HMAC-SHA256"
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    public static let emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// Headers to add to a request so that S3 accepts it: `host`, `x-amz-date`,
    /// `x-amz-content-sha256`, optional `x-amz-security-token`, and `Authorization`.
    public static func sign(method: String, url: URL, headers: [(String, String)] = [], payloadHash: String,
                            credentials: S3Credentials, region: String = "us-east-1", service: String = "s3",
                            date: Date = Date(), keys: SigningKeyCache? = nil) -> [(String, String)] {
        let amzDate = amzDateString(date)
        let day = String(amzDate.prefix(8))
        var all = headers.map { ($0.0.lowercased(), ASCII.trim($0.1)) }
        var added: [(String, String)] = [("host", hostHeader(url)), ("x-amz-date", amzDate), ("x-amz-content-sha256", payloadHash)]
        if let token = credentials.sessionToken { added.append(("x-amz-security-token", token)) }
        all.append(contentsOf: added)
        let signedNames = Array(Set(all.map(\.0))).sorted()
        // The path as sent (URLComponents keeps a trailing slash, URL.path would drop it), decoded
        // and re-encoded the S3 way.
        let comps = URLComponents(url: url, resolvingAgainstBaseURL: false)
        let sentPath = comps?.percentEncodedPath ?? "/"
        // (A byte search: Foundation's String.contains was a seventh of the signing's CPU.)
        let encoded = sentPath.utf8.contains(UInt8(ascii: "%"))
        let path = sentPath.isEmpty ? "/" : !encoded ? sentPath : (sentPath.removingPercentEncoding ?? sentPath)
        let canonical = canonicalRequest(method: method, path: path,
                                         rawQuery: comps?.percentEncodedQuery ?? "", headers: all, signedHeaders: signedNames,
                                         payloadHash: payloadHash)
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let toSign = stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: canonical)
        let signature = hex(HMAC<SHA256>.authenticationCode(for: Data(toSign.utf8),
                                                           using: keys?.key(secret: credentials.secretAccessKey, day: day, region: region, service: service)
                                                               ?? signingKey(secret: credentials.secretAccessKey, day: day, region: region, service: service)))
        let auth = "\(algorithm) Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedNames.joined(separator: ";")), Signature=\(signature)"
        return added.filter { $0.0 != "host" } + [("Authorization", auth)]
    }

    /// The Host header `sign` signs for `url`: host[:port]. A request sent some other way than
    /// to `url` itself must carry exactly this.
    public static func hostHeader(_ url: URL) -> String {
        (url.host ?? "") + (url.port.map { ":\($0)" } ?? "")
    }

    public static func canonicalRequest(method: String, path: String, rawQuery: String, headers: [(String, String)],
                                        signedHeaders: [String], payloadHash: String) -> String {
        var byName: [String: [String]] = [:]
        for (n, v) in headers { byName[n.lowercased(), default: []].append(collapseSpaces(v)) }
        let canonicalHeaders = signedHeaders.map { "\($0):\((byName[$0] ?? []).joined(separator: ","))\n" }.joined()
        return [method, canonicalURI(path), canonicalQuery(rawQuery), canonicalHeaders,
                signedHeaders.joined(separator: ";"), payloadHash].joined(separator: "\n")
    }

    public static func stringToSign(amzDate: String, scope: String, canonicalRequest: String) -> String {
        [algorithm, amzDate, scope, sha256Hex(Data(canonicalRequest.utf8))].joined(separator: "\n")
    }

    public static func signingKey(secret: String, day: String, region: String, service: String) -> SymmetricKey {
        func hmac(_ key: SymmetricKey, _ msg: String) -> SymmetricKey {
            SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(msg.utf8), using: key)))
        }
        let kDate = hmac(SymmetricKey(data: Data("AWS4\(secret)".utf8)), day)
        return hmac(hmac(hmac(kDate, region), service), "aws4_request")
    }

    /// S3 canonical URI: each segment URI-encoded once, slashes kept. `path` is already decoded.
    public static func canonicalURI(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { uriEncode(String($0)) }.joined(separator: "/")
    }

    /// Query parameters decoded, re-encoded and sorted by name then value.
    public static func canonicalQuery(_ raw: String) -> String {
        guard !raw.isEmpty else { return "" }
        let pairs: [(String, String)] = raw.split(separator: "&").map { item in
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let k = percentDecode(String(parts[0]))
            let v = parts.count > 1 ? percentDecode(String(parts[1])) : ""
            return (uriEncode(k), uriEncode(v))
        }
        return pairs.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    private static let unreserved: Set<UInt8> = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)

    /// RFC 3986 encoding of everything but unreserved characters, uppercase hex.
    public static func uriEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            if unreserved.contains(b) {
                out.append(Character(UnicodeScalar(b)))
            } else {
                out.append("%")
                out.append(Character(UnicodeScalar(upperHex[Int(b >> 4)])))
                out.append(Character(UnicodeScalar(upperHex[Int(b & 15)])))
            }
        }
        return out
    }

    static func percentDecode(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else { return s }
        return s.replacingOccurrences(of: "+", with: "%20").removingPercentEncoding ?? s
    }

    static func collapseSpaces(_ s: String) -> String {
        // Fast path: nearly every header value has no space to trim or collapse.
        var previousSpace = true
        var clean = true
        for b in s.utf8 {
            if b == 32 || b == 9 { if previousSpace { clean = false; break }; previousSpace = true } else { previousSpace = false }
        }
        if clean && !previousSpace || s.isEmpty { return s }
        return s.trimmingCharacters(in: .whitespaces).split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }

    public static func amzDateString(_ date: Date) -> String { UTCTime.amzDate(date) }

    public static func sha256Hex(_ data: Data) -> String { hex(SHA256.hash(data: data)) }

    public static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity(64)
        for b in bytes {
            out.append(lowerHex[Int(b >> 4)])
            out.append(lowerHex[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static let lowerHex = Array("0123456789abcdef".utf8)
    private static let upperHex = Array("0123456789ABCDEF".utf8)
}

/// The last signing key derived, kept because it changes once a day (or when the secret does):
/// deriving it costs four HMACs per request.
public final class SigningKeyCache: Sendable {
    private let last = Mutex<(id: String, key: SymmetricKey)?>(nil)

    public init() {}

    func key(secret: String, day: String, region: String, service: String) -> SymmetricKey {
        let id = "\(day)/\(region)/\(service)/\(secret)"
        if let hit = last.withLock({ $0 }), hit.id == id { return hit.key }
        let key = SigV4.signingKey(secret: secret, day: day, region: region, service: service)
        last.withLock { $0 = (id, key) }
        return key
    }
}
