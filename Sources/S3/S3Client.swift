import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An object's listing entry or HEAD answer.
public struct ObjectInfo: Sendable, Equatable {
    public var key: String
    public var size: Int64
    public var etag: String?
    public var lastModified: Date?
    /// `x-amz-meta-*` headers, names lowercased without the prefix.
    public var metadata: [String: String]
    public var contentType: String?
    /// The representation headers a HEAD gave besides Content-Type (`cache-control`,
    /// `content-disposition`, `content-encoding`, `content-language`, `expires`), names lowercased.
    public var headers: [String: String] = [:]
    /// Whether `metadata` is what the object carries (a HEAD, or a listing entry with
    /// `<UserMetadata>`), not merely unknown (a plain listing entry).
    public var hasMetadata: Bool

    public init(key: String, size: Int64, etag: String? = nil, lastModified: Date? = nil,
                metadata: [String: String] = [:], contentType: String? = nil, hasMetadata: Bool = false) {
        self.key = key
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
        self.metadata = metadata
        self.contentType = contentType
        self.hasMetadata = hasMetadata
    }
}

/// One page of ListObjectsV2.
public struct ListPage: Sendable {
    public var objects: [ObjectInfo] = []
    public var commonPrefixes: [String] = []
    /// User metadata a listing gave for a common prefix (the daemon's: a directory's attributes,
    /// names lowercased without `x-amz-meta-`), by prefix as written.
    public var prefixMetadata: [String: [String: String]] = [:]
    public var nextContinuationToken: String?
    /// `url` when the keys and prefixes are URL-encoded (as asked with `encoding-type`).
    public var encodingType: String?

    /// A key of a URL-encoded listing as written by the engine (Go's QueryEscape) and read by
    /// AWS's SDKs: `+` is a space; nil when it is not valid percent-encoding.
    public static func decodedKey(_ k: String) -> String? {
        guard k.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else { return k }
        return k.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    /// The page with its keys, prefixes and their metadata decoded when URL-encoded; nil when one
    /// does not decode.
    public func decodingKeys() -> ListPage? {
        guard encodingType == "url" else { return self }
        var out = self
        out.encodingType = nil
        for i in out.objects.indices {
            guard let k = Self.decodedKey(out.objects[i].key) else { return nil }
            out.objects[i].key = k
        }
        var prefixes: [String] = []
        for p in commonPrefixes {
            guard let d = Self.decodedKey(p) else { return nil }
            prefixes.append(d)
        }
        out.commonPrefixes = prefixes
        out.prefixMetadata = Dictionary(prefixMetadata.compactMap { k, v in Self.decodedKey(k).map { ($0, v) } }) { a, _ in a }
        return out
    }

    /// Where a listing goes on from.
    public struct Next: Sendable, Equatable {
        public var token: String?
        public var startAfter: String?
        public static let start = Next(token: nil, startAfter: nil)
    }

    /// Where the listing goes on after this page (nil: it was the last): the continuation token,
    /// unless it lost a byte of the page's last key — SeaweedFS makes the token that key and
    /// writes it unescaped even when the keys are URL-encoded, so a control character XML cannot
    /// hold comes back as U+FFFD, and going on from there would skip every key between the two —
    /// then just after the last key or prefix (which SeaweedFS also skips whole).
    public var next: Next? {
        guard let token = nextContinuationToken else { return nil }
        let last = [objects.last?.key, commonPrefixes.last].compactMap { $0 }.max { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        if token.unicodeScalars.contains("\u{FFFD}"), let last, last != token, !last.unicodeScalars.contains("\u{FFFD}") {
            return Next(token: nil, startAfter: last)
        }
        return Next(token: token, startAfter: nil)
    }
}

/// Exponential backoff with jitter, bounded in attempts and in total time.
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var baseDelay: Double
    public var maxDelay: Double
    /// No new attempt starts after this many seconds since the first.
    public var budget: Double
    /// The part of each wait that is not random: 0 is full jitter (waits anywhere from 0 to the
    /// exponential step), 0.5 waits at least half of it, so the retries surely span a known time.
    public var fixedFraction: Double

    public init(maxAttempts: Int = 5, baseDelay: Double = 0.1, maxDelay: Double = 5, budget: Double = 60, fixedFraction: Double = 0) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.budget = budget
        self.fixedFraction = fixedFraction
    }

    public static let none = RetryPolicy(maxAttempts: 1)

    /// Delay before attempt `attempt + 1` (attempt counts from 1), `unit` in [0, 1).
    public func delay(afterAttempt attempt: Int, unit: Double) -> Double {
        (fixedFraction + (1 - fixedFraction) * unit) * min(maxDelay, baseDelay * pow(2, Double(attempt - 1)))
    }
}

/// A blocking S3 client on libcurl: path-style, SigV4-signed, pooled keep-alive connections,
/// retries for idempotent requests. Safe to use from many threads at once.
public final class S3Client: Sendable {
    public let endpoint: URL
    public let region: String
    public let retry: RetryPolicy
    public let timeout: Double
    /// Where the endpoint listens when it is a Unix domain socket (the URL then only names the host).
    public let unixSocket: String?
    /// For an `https://` endpoint: CA certificates (PEM) to trust instead of the system's.
    public let caFile: String?
    let signingKeys = SigningKeyCache()
    let credentials: @Sendable () -> S3Credentials
    let pool: CurlPool
    /// Told about every answered attempt: the operation ("GetObject b/k"), method, status, body
    /// bytes sent or received, and whether it was a retry.
    private let observer: (@Sendable (String, String, Int, Int64, Bool) -> Void)?
    /// Told when the endpoint refused the credentials (403); returns true when other credentials are
    /// available now, and the request is then sent once more with them.
    private let rejected: (@Sendable () -> Bool)?

    /// `credentials` is asked on every request, so a rotated key takes effect without a new client.
    public init(endpoint: URL, region: String = "us-east-1", retry: RetryPolicy = RetryPolicy(), timeout: Double = 60,
                pool: CurlPool = CurlPool(), observer: (@Sendable (String, String, Int, Int64, Bool) -> Void)? = nil,
                rejected: (@Sendable () -> Bool)? = nil, unixSocket: String? = nil, caFile: String? = nil,
                credentials: @escaping @Sendable () -> S3Credentials) {
        self.unixSocket = unixSocket
        self.caFile = caFile
        self.observer = observer
        self.rejected = rejected
        self.endpoint = endpoint
        self.region = region
        self.retry = retry
        self.timeout = timeout
        self.pool = pool
        self.credentials = credentials
    }

    public convenience init(endpoint: URL, credentials: S3Credentials, region: String = "us-east-1",
                            retry: RetryPolicy = RetryPolicy(), timeout: Double = 60, unixSocket: String? = nil) {
        self.init(endpoint: endpoint, region: region, retry: retry, timeout: timeout, unixSocket: unixSocket, credentials: { credentials })
    }

    /// Sends one request, retrying idempotent ones on throttling, 5xx and transient transport errors.
    /// Non-2xx answers become `S3Error`.
    public func send(_ method: String, bucket: String? = nil, key: String? = nil, query: [(String, String)] = [],
                     headers: [(String, String)] = [], body: Data? = nil, operation: String,
                     idempotent: Bool = true, expect: Set<Int> = [], sink: ResponseSink? = nil) throws -> HTTPResponse {
        let url = makeURL(bucket: bucket, key: key, query: query)
        let payloadHash = SigV4.sha256Hex(body ?? Data())
        let started = Date()
        var attempt = 0
        var refreshed = false
        while true {
            attempt += 1
            let signedWith = credentials()
            let signed = SigV4.sign(method: method, url: url, headers: headers, payloadHash: payloadHash,
                                    credentials: signedWith, region: region, keys: signingKeys)
            var request = HTTPRequest(method: method, url: url.absoluteString, headers: headers + signed, body: body,
                                      unixSocket: unixSocket, timeout: timeout)
            request.caFile = caFile
            request.sink = sink
            let failure: S3Error
            do {
                let r = try pool.perform(request)
                observer?(operation, method, r.status, Int64(method == "PUT" || method == "POST" ? body?.count ?? 0 : r.body.count + (sink?.count ?? 0)), attempt > 1)
                if (200..<300).contains(r.status) || expect.contains(r.status) { return r }
                failure = method == "HEAD"
                    ? S3Error.from(status: r.status, code: r.header("x-amz-error-code"), message: r.header("x-amz-error-message"), operation: operation)
                    : S3Error.from(status: r.status, body: XMLNode.parse(r.body), operation: operation)
            } catch let e as HTTPTransportError {
                failure = S3Error(kind: .transport, status: nil, code: nil, message: e.message, operation: operation)
                if !e.isTransient { throw failure }
            }
            // Refused at the door (nothing was done): once, with credentials that changed meanwhile
            // (replaced while this request was on its way, or found new when asked).
            if failure.status == 403, !refreshed, ["InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "AccessDenied"].contains(failure.code ?? ""),
               credentials() != signedWith || rejected?() == true {
                refreshed = true
                continue
            }
            let canRetry = failure.isRetryable && idempotent && attempt < retry.maxAttempts
            let wait = retry.delay(afterAttempt: attempt, unit: Double.random(in: 0..<1))
            guard canRetry, Date().timeIntervalSince(started) + wait < retry.budget else { throw failure }
            usleep(useconds_t(wait * 1_000_000))
        }
    }

    func makeURL(bucket: String?, key: String?, query: [(String, String)]) -> URL {
        var comps = URLComponents(url: endpoint, resolvingAgainstBaseURL: false)!
        var path = ""
        if let bucket { path += "/" + SigV4.uriEncode(bucket) }
        if let key { path += "/" + SigV4.canonicalURI(key) }
        comps.percentEncodedPath = path.isEmpty ? "/" : path
        comps.percentEncodedQuery = query.isEmpty ? nil
            : query.map { $0.1.isEmpty ? SigV4.uriEncode($0.0) : "\(SigV4.uriEncode($0.0))=\(SigV4.uriEncode($0.1))" }.joined(separator: "&")
        return comps.url!
    }

    static func parseXML(_ r: HTTPResponse, _ operation: String) throws -> XMLNode {
        guard let node = XMLNode.parse(r.body) else {
            throw S3Error(kind: .invalidResponse, status: r.status, code: nil, message: "the answer is not XML", operation: operation)
        }
        return node
    }
}
