import Foundation

/// Small signed S3 calls for the daemon's own use (engine health, bucket admin): whole bodies in
/// memory, path-style addressing. The streaming client for mounts is a separate, later piece.
public struct S3Requester: Sendable {
    public var endpoint: URL
    public var credentials: S3Credentials
    public var region: String
    public var timeout: Double

    public init(endpoint: URL, credentials: S3Credentials, region: String = "us-east-1", timeout: Double = 10) {
        self.endpoint = endpoint
        self.credentials = credentials
        self.region = region
        self.timeout = timeout
    }

    /// `path` is the decoded path (`/bucket/key`); `query` is already encoded.
    public func request(_ method: String, path: String, query: String = "", body: Data? = nil) async throws -> HTTPResponse {
        var comps = URLComponents(url: endpoint, resolvingAgainstBaseURL: false)!
        comps.percentEncodedPath = SigV4.canonicalURI(path)
        comps.percentEncodedQuery = query.isEmpty ? nil : query
        let url = comps.url!
        let payload = body ?? Data()
        let signed = SigV4.sign(method: method, url: url, payloadHash: SigV4.sha256Hex(payload),
                                credentials: credentials, region: region)
        return try await CurlHTTP.perform(async: HTTPRequest(method: method, url: url.absoluteString, headers: signed,
                                                            body: body, timeout: timeout))
    }
}
