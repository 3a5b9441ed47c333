import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import S3

/// The S3 front door's request path (ADR 0002): check the request, verify its signature, decide
/// with the grant and bucket state, admit it against the quota, forward it re-signed, stream the
/// answer back. Every refusal is S3 XML with a message a person can act on, counted and audited.
final class GatewayCore: Sendable {
    let registry: Registry
    let usage: UsageTracker
    let forwarder: Forwarder
    let state: DaemonState
    let metrics: GatewayMetrics
    let audit: AuditLog
    let adminKey: String
    let adminSecret: String
    let region: String
    let now: @Sendable () -> Date
    /// The budget for request bytes held in memory, shared by every connection.
    let memory: RequestMemory
    /// The engine's filer, for listings that carry metadata (nil: such listings go out plain).
    let filer: FilerClient?
    /// The engine's object changes, for followers (nil: `?changes` is not offered).
    let changes: ChangeFeed?

    init(registry: Registry, usage: UsageTracker, forwarder: Forwarder, state: DaemonState, metrics: GatewayMetrics, audit: AuditLog,
         admin: EngineIdentity, region: String, memory: RequestMemory = RequestMemory(), filer: FilerClient? = nil,
         changes: ChangeFeed? = nil, now: @escaping @Sendable () -> Date = { Date() }) {
        self.memory = memory
        self.filer = filer
        self.changes = changes
        self.registry = registry
        self.usage = usage
        self.forwarder = forwarder
        self.state = state
        self.metrics = metrics
        self.audit = audit
        adminKey = admin.accessKeyID
        adminSecret = admin.secretAccessKey
        self.region = region
        self.now = now
    }

    /// A refusal with the label it is counted under in `garagetytus_s3_denied_total{reason}`.
    struct Denial: Error {
        var refusal: GatewayRequest.Refusal
        var reason: String
        /// Refused before any signature was verified: counted per source, not audited one by one.
        var unauthenticated = false
    }

    /// What the request turned out to be, for metrics, traffic and audit.
    struct Facts {
        var op = "unknown"
        var bucket: String?
        var caller = "-"
        var bytesIn: Int64 = 0
        var bytesOut: Int64 = 0
    }

    func handle(_ request: Request, from source: String = "unknown") async -> Response {
        let started = ContinuousClock.now
        var facts = Facts()
        var response: Response
        do {
            response = try await process(request, &facts)
        } catch let d as Denial {
            metrics.denied(reason: d.reason)
            if d.unauthenticated {
                audit.countRefusal(source: source, reason: d.reason)
            } else {
                audit.record("request_refused", [("caller", facts.caller), ("op", facts.op), ("bucket", facts.bucket ?? "-"),
                                            ("method", request.method.rawValue), ("path", String(request.uri.path.prefix(200))),
                                            ("status", "\(d.refusal.status)"), ("code", d.refusal.code), ("why", d.refusal.message)])
            }
            response = Self.errorResponse(d.refusal, resource: request.uri.path)
        } catch let r as GatewayRequest.Refusal {
            response = Self.errorResponse(r, resource: request.uri.path)
        } catch {
            response = Self.errorResponse(.init(status: 500, code: "InternalError", message: "the gateway failed: \(error)"), resource: request.uri.path)
        }
        if let len = response.headers[.contentLength].flatMap({ Int64($0) }), request.method != .head { facts.bytesOut = len }
        metrics.request(op: facts.op, status: Int(response.status.code), duration: ContinuousClock.now - started,
                        bytesIn: facts.bytesIn, bytesOut: facts.bytesOut, bucket: facts.bucket)
        return response
    }

    private func process(_ request: Request, _ facts: inout Facts) async throws -> Response {
        // HTTP types keep Host as the :authority pseudo-header.
        let headers = [("host", request.head.authority ?? "")] + request.headers.map { ($0.name.canonicalName, $0.value) }
        let req = try GatewayRequest(method: request.method.rawValue, uri: request.uri.string, headers: headers)
        let caller = try authenticate(req, &facts)
        let op = S3Operation.classify(method: req.method, path: req.path, query: req.query, headers: { req.header($0) })
        facts.op = op.kind.rawValue
        facts.bucket = op.bucket
        if let problem = op.copySourceProblem {
            throw Denial(refusal: .init(status: 400, code: "InvalidArgument", message: problem), reason: "bad_request")
        }
        let record = op.bucket.flatMap { registry.bucket($0) }
        let s = state.snapshot
        switch Policy.decide(op, caller: caller.who, bucket: record?.view, readOnly: (s.mode == .ro, s.diskFreePct), now: caller.at) {
        case .allow: break
        case let .deny(status, code, message):
            throw Denial(refusal: .init(status: status, code: code, message: message), reason: Self.reason(code: code, message: message))
        }
        if case .grant(let g) = caller.who {
            if op.kind == .listBuckets { return GatewayXML.listBuckets(registry.bucket(g.bucket).map { [$0] } ?? []) }
            if op.kind == .createBucket { return GatewayXML.xml("", status: 200) }  // its own bucket exists: a no-op
        }
        if op.kind == .getBucketLocation { return GatewayXML.location(region) }
        if op.kind == .listChanges { return try changeStream(req, op: op, accessKey: caller.verified.accessKeyID, &facts) }
        if op.kind == .listObjects || op.kind == .listObjectsV2, req.query["metadata"] != nil {
            return try await listWithMetadata(req, op: op, &facts)
        }
        return try await forward(req, body: request.body, op: op, record: record, verified: caller.verified, &facts)
    }

    // MARK: authentication

    struct Authenticated {
        var who: Caller
        var verified: SigV4Verified
        /// The later of now and the signing time: a request signed after a grant expired is refused.
        var at: Date
    }

    private func authenticate(_ req: GatewayRequest, _ facts: inout Facts) throws -> Authenticated {
        if let shared = registry.shared, shared.isStale, Self.claimedAccessKey(req) != adminKey {
            // Fail closed: a grant revoked elsewhere meanwhile would still be honoured here.
            let age = shared.secondsSincePull.map { String(format: "%.0f s ago", $0) } ?? "never"
            throw Denial(refusal: .init(status: 503, code: "ServiceUnavailable",
                                        message: "garagetytus last read the cluster's shared grants \(age) (engine.max_staleness_seconds = \(Int(shared.maxStaleness))): grants are refused until the cluster answers again"),
                         reason: "stale_shared_state")
        }
        var verifier = SigV4Verifier(secret: { [registry, adminKey, adminSecret] key in
            if key == adminKey { return adminSecret }
            guard let g = registry.grant(accessKey: key), !g.secretKey.isEmpty else { return nil }
            return g.secretKey
        }, now: now)
        verifier.maxSkew = 15 * 60
        do {
            return try authenticateVerified(verifier, req, &facts)
        } catch var d as Denial {
            d.unauthenticated = true
            throw d
        }
    }

    private func authenticateVerified(_ verifier: SigV4Verifier, _ req: GatewayRequest, _ facts: inout Facts) throws -> Authenticated {
        let verified: SigV4Verified
        do {
            verified = try verifier.verify(req.signed)
        } catch let r as SigV4Rejection {
            let key = Self.claimedAccessKey(req)
            facts.caller = key.map { registry.grant(accessKey: $0)?.id ?? "unknown key" } ?? "anonymous"
            if r.code == "InvalidAccessKeyId", let key, let g = registry.grant(accessKey: key), g.state != .active {
                throw Denial(refusal: .init(status: 403, code: "AccessDenied", message: "grant \(g.id) was revoked\(g.revokedAt.map { " at \(Policy.stamp($0))" } ?? "")"),
                             reason: "revoked")
            }
            let status = ["AuthorizationHeaderMalformed", "AuthorizationQueryParametersError", "InvalidRequest"].contains(r.code) ? 400 : 403
            throw Denial(refusal: .init(status: status, code: r.code, message: r.message), reason: Self.reason(code: r.code, message: r.message))
        }
        let scopeRegion = verified.scope.split(separator: "/").dropFirst().first.map(String.init) ?? ""
        guard verified.scope.isEmpty || scopeRegion == region else {
            throw Denial(refusal: .init(status: 400, code: "AuthorizationHeaderMalformed",
                                       message: "the request is signed for region '\(scopeRegion)'; this endpoint expects '\(region)'"),
                         reason: "bad_signature")
        }
        let signedAt = UTCTime.parseAmzDate(verified.amzDate) ?? now()
        let at = max(now(), signedAt)
        if verified.accessKeyID == adminKey {
            facts.caller = "admin"
            return Authenticated(who: .admin, verified: verified, at: at)
        }
        guard let g = registry.grant(accessKey: verified.accessKeyID) else {
            throw Denial(refusal: .init(status: 403, code: "InvalidAccessKeyId", message: "the access key is not known here"), reason: "unknown_key")
        }
        facts.caller = g.id
        return Authenticated(who: .grant(g.view), verified: verified, at: at)
    }

    /// The access key a request claims, before its signature is checked (to say why it is refused).
    static func claimedAccessKey(_ req: GatewayRequest) -> String? {
        let credential = req.header("authorization").flatMap { auth -> String? in
            guard let r = auth.range(of: "Credential=") else { return nil }
            return String(auth[r.upperBound...])
        } ?? req.query["X-Amz-Credential"] ?? req.query["AWSAccessKeyId"]
        return credential.flatMap { $0.split(separator: "/").first.map(String.init) }
    }

    /// The `reason` label of a refusal.
    static func reason(code: String, message: String) -> String {
        switch code {
        case "ServiceUnavailable": return "read_only"
        case "NotImplemented": return "unsupported"
        case "QuotaExceeded": return "quota"
        case "RequestTimeTooSkewed": return "clock_skew"
        case "InvalidAccessKeyId": return "unknown_key"
        case "SignatureDoesNotMatch", "AuthorizationHeaderMalformed", "AuthorizationQueryParametersError", "InvalidRequest": return "bad_signature"
        default:
            if message.contains("were not signed") { return "bad_signature" }
            if message.contains("deny-all") { return "deny_all" }
            if message.contains("revoked") { return "revoked" }
            if message.contains("expired") { return "expired" }
            return "permission"
        }
    }

    static func errorResponse(_ r: GatewayRequest.Refusal, resource: String) -> Response {
        GatewayXML.error(status: r.status, code: r.code, message: r.message, resource: resource)
    }
}
