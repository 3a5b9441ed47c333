import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Finds configured ports that something else already listens on, before anything is started.
public enum PortCheck {
    /// Throws naming the first port that cannot be bound on `address`.
    public static func ensureFree(_ ports: [(key: String, port: Int)], address: String, configFile: String) throws {
        for (key, port) in ports {
            let err = tryBind(address: address, port: port)
            if err == EADDRINUSE {
                throw DaemonError(.environment, "port \(port) (\(key)) on \(address) is already in use",
                                  fix: "stop what listens there (see: ss -ltnp 'sport = :\(port)') or set \(key) in \(configFile)")
            } else if err != 0 {
                throw DaemonError(.environment, "cannot listen on \(address):\(port) (\(key)): \(String(cString: strerror(err)))",
                                  fix: "choose another \(key) in \(configFile)")
            }
        }
    }

    /// 0 when `address:port` can be bound now, else the errno.
    public static func tryBind(address: String, port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, address, &sa.sin_addr) == 1 else { return EINVAL }
        let rc = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return rc == 0 ? 0 : errno
    }
}
