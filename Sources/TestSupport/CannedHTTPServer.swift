import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A tiny HTTP server on 127.0.0.1 that answers each request with the next canned status
/// (the last one repeats) and counts requests: for testing clients' retry behaviour.
public final class CannedHTTPServer: Sendable {
    public let port: Int
    private let fd: Int32
    private let statuses: [Int]
    private let count = Mutex(0)

    public init(statuses: [Int]) throws {
        self.statuses = statuses
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = fd
        let ok = withUnsafeMutablePointer(to: &sa) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok, listen(fd, 16) == 0 else { throw CocoaError(.fileWriteUnknown) }
        port = Int(UInt16(bigEndian: sa.sin_port))
        Thread.detachNewThread { [self] in serve() }
    }

    public var requests: Int { count.withLock { $0 } }

    private let closed = Mutex(false)

    /// Stops serving. Only the serving thread closes the descriptor (after `accept` fails), so its
    /// number cannot be reused by another server while this thread might still accept on it.
    public func close() {
        closed.withLock { $0 = true }
        shutdown(fd, Int32(SHUT_RDWR))
    }

    private func serve() {
        defer { Glibc.close(fd) }
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 || closed.withLock({ $0 }) {
                if c >= 0 { Glibc.close(c) }
                return
            }
            // Read the request head (and a small body) until the blank line.
            var buf = [UInt8](repeating: 0, count: 65536)
            var got = Data()
            while !got.contains("\r\n\r\n".data(using: .utf8)!) {
                let n = read(c, &buf, buf.count)
                if n <= 0 { break }
                got.append(buf, count: n)
            }
            let n = count.withLock { v -> Int in v += 1; return v }
            let status = statuses[min(n - 1, statuses.count - 1)]
            let body = status == 200 ? "<ListAllMyBucketsResult></ListAllMyBucketsResult>"
                : "<Error><Code>\(status == 503 ? "SlowDown" : "InternalError")</Code><Message>canned \(status)</Message></Error>"
            let resp = "HTTP/1.1 \(status) X\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
            _ = resp.withCString { write(c, $0, strlen($0)) }
            Glibc.close(c)
        }
    }
}
