import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A TCP listener on 127.0.0.1 (a free port); once started, its thread hands every accepted
/// connection to `handle`, which owns and closes it: the socket part of the tests' tiny HTTP servers.
final class LoopbackListener: Sendable {
    let port: Int
    private let fd: Int32
    private let closed = Mutex(false)

    init() throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = fd
        let ok = withUnsafeMutablePointer(to: &sa) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok, listen(fd, 16) == 0 else {
            Glibc.close(fd)
            throw CocoaError(.fileWriteUnknown)
        }
        port = Int(UInt16(bigEndian: sa.sin_port))
    }

    func start(handle: @escaping @Sendable (Int32) -> Void) {
        Thread.detachNewThread { [self] in accepting(handle) }
    }

    /// Stops accepting. Only the accepting thread closes the descriptor (after `accept` fails), so
    /// its number cannot be reused by another listener while that thread might still accept on it.
    func close() {
        closed.withLock { $0 = true }
        shutdown(fd, Int32(SHUT_RDWR))
    }

    private func accepting(_ handle: @Sendable (Int32) -> Void) {
        defer { Glibc.close(fd) }
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 || closed.withLock({ $0 }) {
                if c >= 0 { Glibc.close(c) }
                return
            }
            handle(c)
        }
    }
}
