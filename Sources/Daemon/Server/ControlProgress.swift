import Foundation
import Hummingbird
import Synchronization

/// Long control calls (`bucket expire`, `repair`) asked with `?progress=1` answer a stream of JSON
/// lines: `{"progress":"…"}` while the work goes on, then `{"result":…}` or
/// `{"error":{"code","message","fix"}}`. Without it they answer the result alone, as before.
extension ControlServer {
    struct ResultLine<T: Encodable>: Encodable { var result: T }
    struct ErrorLine: Encodable { var error: ErrorBody }
    struct ProgressLine: Encodable { var progress: String }

    static func answerWithProgress<T: Encodable & Sendable>(
        _ req: Request, _ work: @escaping @Sendable (_ progress: (@Sendable (String) -> Void)?) async throws -> T
    ) async throws -> Response {
        // Without a follower of the progress, none is made (a count of objects costs a listing).
        guard req.uri.queryParameters.get("progress") == "1" else { return try await answer { try await work(nil) } }
        let (lines, sink) = AsyncStream<String>.makeStream()
        Task {
            do {
                let result = try await work { sink.yield(Self.line(ProgressLine(progress: $0))) }
                sink.yield(Self.line(ResultLine(result: result)))
            } catch let e as DaemonError {
                sink.yield(Self.line(ErrorLine(error: ErrorBody(code: e.code.description, message: e.message, fix: e.fix))))
            } catch {
                sink.yield(Self.line(ErrorLine(error: ErrorBody(code: "failed", message: "\(error)", fix: nil))))
            }
            sink.finish()
        }
        return Response(status: .ok, headers: [.contentType: "application/x-ndjson", .cacheControl: "no-store"], body: ResponseBody { writer in
            for await l in lines { try await writer.write(ByteBuffer(string: l)) }
            try await writer.finish(nil)
        })
    }

    /// One line of JSON (dates as ISO 8601, as the other control answers).
    static func line<T: Encodable>(_ value: T) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return ((try? e.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}") + "\n"
    }
}
