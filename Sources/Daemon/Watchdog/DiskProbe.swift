#if canImport(Glibc)
import Glibc
#endif

/// Reads how much of a filesystem is free.
public protocol DiskProbe: Sendable {
    /// Free percentage (0–100) of the filesystem holding `path`, as unprivileged users see it.
    func freePercent(of path: String) throws -> Double
}

/// `statvfs`: blocks available to unprivileged users over total blocks.
public struct StatvfsDiskProbe: DiskProbe {
    public init() {}

    public func freePercent(of path: String) throws -> Double {
        var st = statvfs()
        guard statvfs(path, &st) == 0 else {
            throw DaemonError(.environment, "statvfs \(path): \(String(cString: strerror(errno)))")
        }
        guard st.f_blocks > 0 else { return 100 }
        return Double(st.f_bavail) / Double(st.f_blocks) * 100
    }
}
