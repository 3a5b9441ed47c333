import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A tiny HTTP/1.1 server on 127.0.0.1 that answers every request with 200 and `body` (HEAD: its
/// length only), keeping the connection open (no `Connection: close`) but closing it after
/// `answersPerConnection` answers, as an engine closing idle connections does; it counts
/// connections and requests.
public final class KeepAliveHTTPServer: Sendable {
    public let port: Int
    private let listener: LoopbackListener
    private let body: [UInt8]
    private let answersPerConnection: Int
    private let counts = Mutex((connections: 0, requests: 0))

    public init(body: [UInt8], answersPerConnection: Int) throws {
        self.body = body
        self.answersPerConnection = answersPerConnection
        listener = try LoopbackListener()
        port = listener.port
        listener.start { [self] c in
            counts.withLock { $0.connections += 1 }
            Thread.detachNewThread { [self] in answer(on: c) }
        }
    }

    public var connections: Int { counts.withLock { $0.connections } }
    public var requests: Int { counts.withLock { $0.requests } }

    /// Stops accepting.
    public func close() { listener.close() }

    private func answer(on c: Int32) {
        defer { Glibc.close(c) }
        var pending = Data()
        var buf = [UInt8](repeating: 0, count: 65536)
        let blank = Data("\r\n\r\n".utf8)
        for _ in 0..<answersPerConnection {
            while pending.range(of: blank) == nil {
                let n = read(c, &buf, buf.count)
                if n <= 0 { return }
                pending.append(buf, count: n)
            }
            let isHead = pending.starts(with: Data("HEAD ".utf8))
            pending.removeSubrange(..<pending.range(of: blank)!.upperBound)
            counts.withLock { $0.requests += 1 }
            let head = Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
            guard writeAll(c, head), isHead || writeAll(c, body) else { return }
        }
    }

    private func writeAll(_ c: Int32, _ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { write(c, $0.baseAddress! + off, bytes.count - off) }
            if n <= 0 { return false }
            off += n
        }
        return true
    }
}
