import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A tiny HTTP server on 127.0.0.1 that answers each request with the next canned status
/// (the last one repeats) and counts requests: for testing clients' retry behaviour.
public final class CannedHTTPServer: Sendable {
    public let port: Int
    private let listener: LoopbackListener
    private let statuses: [Int]
    private let count = Mutex(0)
    /// Answers from the request's head (its first line is `METHOD target HTTP/1.1`), if given.
    private let responder: (@Sendable (String) -> (status: Int, body: String))?

    public init(statuses: [Int]) throws {
        self.statuses = statuses
        responder = nil
        listener = try LoopbackListener()
        port = listener.port
        listener.start { [self] c in answer(c) }
    }

    /// A server whose answer depends on the request: `responder` gets the request head.
    public init(responder: @escaping @Sendable (String) -> (status: Int, body: String)) throws {
        statuses = []
        self.responder = responder
        listener = try LoopbackListener()
        port = listener.port
        listener.start { [self] c in answer(c) }
    }

    public var requests: Int { count.withLock { $0 } }

    /// Stops serving.
    public func close() { listener.close() }

    /// Answers one connection, then closes it.
    private func answer(_ c: Int32) {
        // Read the request head (and a small body) until the blank line.
        var buf = [UInt8](repeating: 0, count: 65536)
        var got = Data()
        while !got.contains("\r\n\r\n".data(using: .utf8)!) {
            let n = read(c, &buf, buf.count)
            if n <= 0 { break }
            got.append(buf, count: n)
        }
        let n = count.withLock { v -> Int in v += 1; return v }
        let status: Int, body: String
        if let responder {
            (status, body) = responder(String(decoding: got, as: UTF8.self))
        } else {
            status = statuses[min(n - 1, statuses.count - 1)]
            body = status == 200 ? "<ListAllMyBucketsResult></ListAllMyBucketsResult>"
                : "<Error><Code>\(status == 503 ? "SlowDown" : "InternalError")</Code><Message>canned \(status)</Message></Error>"
        }
        let resp = "HTTP/1.1 \(status) X\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        _ = resp.withCString { write(c, $0, strlen($0)) }
        Glibc.close(c)
    }
}
