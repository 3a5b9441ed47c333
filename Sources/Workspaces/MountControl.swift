import CGaragetytus
import Daemon
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Mounts seen from outside their process: start one in the background (returning once the
/// directory answers), find a mount's process, unmount.
public enum MountControl {
    /// Spawns `mount --foreground` detached, logging to the mount's log file; returns its pid once the
    /// directory answers through the kernel.
    public static func startInBackground(_ spec: MountSpec, timeout: Double) throws -> Int32 {
        try FileManager.default.createDirectory(atPath: spec.paths.logDir, withIntermediateDirectories: true)
        let exe = Paths.ownExecutable
        let out = open(spec.logFile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw DaemonError(.environment, "cannot open \(spec.logFile)") }
        defer { close(out) }
        let argv = [exe] + Array(CommandLine.arguments.dropFirst()) + ["--foreground"]
        let env = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        let pid = withCStrings(argv) { a in withCStrings(env) { e in gt_spawn(exe, a, e, out, 1, 0) } }
        guard pid > 0 else { throw DaemonError(.environment, "cannot start the mount process: \(String(cString: strerror(-pid)))") }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                let why = LogTail.lines(of: spec.logFile, count: 20).last { $0.hasPrefix("error: ") }.map { String($0.dropFirst(7)) }
                throw DaemonError(.failed, "the mount process exited: \(why ?? "see \(spec.logFile)")")
            }
            var st = stat()
            if MountSpec.isMounted(spec.mountpoint) && stat(spec.mountpoint, &st) == 0 { return pid }
            usleep(20_000)
        }
        kill(pid, SIGTERM)
        throw DaemonError(.failed, "the mount was not ready within \(Int(timeout)) s", fix: "see \(spec.logFile)")
    }

    /// The pid of the process serving `mountpoint`, from the registry.
    public static func registeredPID(_ mountpoint: String, paths: Paths) throws -> Int32? {
        try MountRegistry.read(MountSpec.registryFile(for: mountpoint, paths: paths))?.pid
    }

    /// Unmounts `mountpoint` and waits for its process; cleans up a stale mount.
    public static func unmount(_ mountpoint: String, paths: Paths, timeout: Double) throws -> String {
        let registry = MountSpec.registryFile(for: mountpoint, paths: paths)
        let pid = try registeredPID(mountpoint, paths: paths)
        let alive = pid.map(Sentinel.processIsAlive) ?? false
        guard MountSpec.isMounted(mountpoint) else {
            unlink(registry)
            throw DaemonError(.usage, "\(mountpoint) is not mounted")
        }
        if pid == nil {
            // Mounted, but not from this home (another GARAGETYTUS_HOME, or another tool): its
            // process may well be alive, so it is asked to end as any live mount is.
            if umount2(mountpoint, 0) != 0 {
                if errno == EBUSY {
                    throw DaemonError(.failed, "\(mountpoint) is busy", fix: "close the files open in it (see: fuser -vm \(mountpoint)) and try again")
                }
                guard umount2(mountpoint, Int32(MNT_DETACH)) == 0 else {
                    throw DaemonError(.failed, "cannot unmount \(mountpoint): \(String(cString: strerror(errno)))")
                }
            }
            unlink(registry)
            return "no record of this mount in this home; unmounted \(mountpoint)"
        }
        if !alive {
            guard umount2(mountpoint, Int32(MNT_DETACH)) == 0 else {
                throw DaemonError(.failed, "cannot clean up the stale mount on \(mountpoint): \(String(cString: strerror(errno)))")
            }
            unlink(registry)
            return "cleaned up the stale mount on \(mountpoint) (its process had died)"
        }
        guard umount2(mountpoint, 0) == 0 else {
            if errno == EBUSY {
                throw DaemonError(.failed, "\(mountpoint) is busy", fix: "close the files open in it (see: fuser -vm \(mountpoint)) and try again")
            }
            throw DaemonError(.failed, "cannot unmount \(mountpoint): \(String(cString: strerror(errno)))")
        }
        let deadline = Date().addingTimeInterval(timeout)
        while let p = pid, Sentinel.processIsAlive(p), Date() < deadline { usleep(20_000) }
        if let p = pid, Sentinel.processIsAlive(p) {
            throw DaemonError(.failed, "the mount process (pid \(p)) did not exit within \(Int(timeout)) s")
        }
        return "unmounted \(mountpoint)"
    }
}
