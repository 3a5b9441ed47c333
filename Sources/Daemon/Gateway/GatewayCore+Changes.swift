import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import S3

extension GatewayCore {
    /// Silence longer than this gets a `tick` line, so a follower knows the stream is alive.
    static let changesTick: Duration = .seconds(2)

    /// `GET /<bucket>?changes[&since=N]`: the bucket's object changes as JSON lines, from
    /// position N (else from now), for as long as the client stays — and as long as what let it
    /// in still holds: every line is sent only after the request's grant and the bucket are
    /// decided on again, and the stream ends with an `end` line when they no longer allow it.
    /// A position the daemon no longer covers gets a `reset` line (revalidate everything).
    func changeStream(_ req: GatewayRequest, op: S3Operation, accessKey: String, _ facts: inout Facts) throws -> Response {
        guard let feed = changes, let bucket = op.bucket else {
            throw Denial(refusal: .init(status: 501, code: "NotImplemented", message: "this daemon's engine offers no change feed"), reason: "unsupported")
        }
        var start: UInt64?
        if let raw = req.query["since"], !raw.isEmpty {
            guard let n = UInt64(raw) else {
                throw Denial(refusal: .init(status: 400, code: "InvalidArgument", message: "since must be a position a change line gave (a whole number), not \(raw.prefix(40))"),
                             reason: "bad_request")
            }
            start = n
        }
        guard feed.isCovering else {
            throw Denial(refusal: .init(status: 503, code: "ServiceUnavailable", message: "the change feed is starting; try again in a second"), reason: "unavailable")
        }
        let since = start
        let headers: HTTPFields = [.contentType: "application/x-ndjson", .cacheControl: "no-store"]
        return Response(status: .ok, headers: headers, body: ResponseBody { [self] writer in
            metrics.changeFollowing(1)
            defer { metrics.changeFollowing(-1) }
            var position = since
            while true {
                let read = await feed.read(bucket: bucket, after: position, wait: Self.changesTick)
                if let why = stillAllowed(op, accessKey: accessKey) {
                    try await writer.write(ByteBuffer(string: "{\"op\":\"end\",\"why\":\(ChangeEvent.quoted(why))}\n"))
                    break
                }
                var text = ""
                switch read {
                case .closed:
                    try await writer.write(ByteBuffer(string: "{\"op\":\"end\",\"why\":\"the daemon is stopping\"}\n"))
                    try await writer.finish(nil)
                    return
                case let .reset(p):
                    text = "{\"op\":\"reset\",\"seq\":\(p)}\n"
                    position = p
                case let .changes(list, p):
                    if position == nil || list.isEmpty { text = "{\"op\":\"tick\",\"seq\":\(p)}\n" }
                    for c in list { text += c.line }
                    position = p
                }
                try await writer.write(ByteBuffer(string: text))
            }
            try await writer.finish(nil)
        })
    }

    /// Why the caller may no longer read the bucket's changes (revoked, expired, deny-all), or nil.
    func stillAllowed(_ op: S3Operation, accessKey: String) -> String? {
        let caller: Caller
        if accessKey == adminKey {
            caller = .admin
        } else {
            if registry.shared?.isStale == true { return "the cluster's shared grants cannot be read (engine.max_staleness_seconds passed)" }
            guard let g = registry.grant(accessKey: accessKey) else { return "the grant is no longer known" }
            if g.state != .active { return "grant \(g.id) was revoked" }
            caller = .grant(g.view)
        }
        let record = op.bucket.flatMap { registry.bucket($0) }
        if case let .deny(_, _, message) = Policy.decide(op, caller: caller, bucket: record?.view, readOnly: (false, nil), now: now()) {
            return message
        }
        return nil
    }
}
