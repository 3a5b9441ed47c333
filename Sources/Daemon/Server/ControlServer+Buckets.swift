import Foundation
import Hummingbird

/// The control API's bucket and grant routes (CLI `garagetytus bucket …`). Failures answer
/// `{"code", "message", "fix"}` so the CLI reports the daemon's own words and exit code.
extension ControlServer {
    struct CreateBody: Decodable { var name: String; var ttl: String; var quota: String; var confirm: Bool }
    struct TTLBody: Decodable { var ttl: String }
    struct ExpireBody: Decodable { var name: String?; var dry_run: Bool }
    struct GrantBody: Decodable { var bucket: String; var to: String; var perms: String; var ttl: String }
    struct ExpiryHookBody: Decodable { var bucket: String?; var grant: String?; var in_seconds: Double }
    struct RetireBody: Decodable { var in_seconds: Double }
    struct ErrorBody: Codable { var code: String; var message: String; var fix: String? }

    struct WorkspaceBody: Decodable { var name: String; var bucket: String; var credentials_file: String }

    static func addBucketRoutes(_ router: Router<BasicRequestContext>, service: BucketService, testHooks: Bool) {
        router.post("/v1/workspaces") { req, ctx in
            try await answer {
                let b = try await decode(WorkspaceBody.self, req, ctx)
                try service.registerWorkspace(name: b.name, bucket: b.bucket, credentialsFile: b.credentials_file)
                return ["ok": true]
            }
        }
        router.delete("/v1/workspaces/:name") { _, ctx in
            try await answer {
                try service.unregisterWorkspace(name: try ctx.parameters.require("name"))
                return ["ok": true]
            }
        }
        router.post("/v1/buckets") { req, ctx in
            try await answer {
                let b = try await decode(CreateBody.self, req, ctx)
                return try await service.create(try BucketSpec(name: b.name, ttl: b.ttl, quota: b.quota, confirmed: b.confirm))
            }
        }
        router.get("/v1/buckets") { _, _ in try await answer { try await service.list() } }
        router.get("/v1/audit") { req, _ in
            try await answer {
                let q = req.uri.queryParameters
                let since = q.get("since").flatMap { Double($0) }.map { Date(timeIntervalSince1970: $0) } ?? .distantPast
                let limit = min(max(q.get("limit").flatMap { Int($0) } ?? 1000, 1), 100_000)
                guard let store = service.audit.store else { return [AuditEvent]() }
                let event: String? = q.get("event").map { String($0) }
                return try store.auditEvents(since: since, event: event, limit: limit)
            }
        }
        router.get("/v1/buckets/:name") { _, ctx in
            try await answer { try await service.info(try ctx.parameters.require("name")) }
        }
        router.post("/v1/buckets/:name/deny-all") { req, ctx in
            try await answer {
                let b = try await decode(TTLBody.self, req, ctx)
                return try service.denyAll(try ctx.parameters.require("name"), ttl: b.ttl)
            }
        }
        router.post("/v1/buckets/:name/allow") { _, ctx in
            try await answer { try service.allow(try ctx.parameters.require("name")) }
        }
        router.post("/v1/expire") { req, ctx in
            let b: ExpireBody
            do { b = try await decode(ExpireBody.self, req, ctx) } catch { return try await answer { () throws -> Bool in throw error } }
            return try await answerWithProgress(req) { progress in try await service.expire(b.name, dryRun: b.dry_run, progress: progress) }
        }
        router.post("/v1/grants") { req, ctx in
            try await answer {
                let b = try await decode(GrantBody.self, req, ctx)
                return try service.mint(try GrantSpec(bucket: b.bucket, label: b.to, perms: b.perms, ttl: b.ttl))
            }
        }
        router.get("/v1/grants") { req, _ in
            try await answer { try service.grants(bucket: req.uri.queryParameters.get("bucket")) }
        }
        router.post("/v1/grants/:id/revoke") { _, ctx in
            try await answer { try await service.revoke(try ctx.parameters.require("id")) }
        }
        router.post("/v1/grants/:id/retire") { req, ctx in
            try await answer {
                let b = try await decode(RetireBody.self, req, ctx)
                return try service.retire(try ctx.parameters.require("id"), in: b.in_seconds)
            }
        }
        if testHooks {
            // Tests move an expiry close instead of waiting out a TTL of the grammar.
            router.post("/v1/test/expiry") { req, ctx in
                try await answer {
                    let b = try await decode(ExpiryHookBody.self, req, ctx)
                    try service.registry.setExpiry(bucket: b.bucket, grant: b.grant, at: service.now.addingTimeInterval(b.in_seconds))
                    return ["ok": true]
                }
            }
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, _ req: Request, _ ctx: BasicRequestContext) async throws -> T {
        let data = try await req.body.collect(upTo: 64 * 1024)
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer: data))
        } catch {
            throw DaemonError(.usage, "the control request is not valid JSON for \(T.self)")
        }
    }

    static func answer<T: Encodable>(_ work: () async throws -> T) async throws -> Response {
        do {
            return json(try await work())
        } catch let e as DaemonError {
            let data = (try? JSONEncoder().encode(ErrorBody(code: e.code.description, message: e.message, fix: e.fix))) ?? Data()
            return Response(status: e.code == .usage ? .badRequest : .conflict, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
    }
}
