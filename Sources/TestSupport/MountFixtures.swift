import Daemon
import Foundation
import Mount
import S3

extension DaemonHarness {
    /// A started daemon (its own home, free ports) with `bucket` created in its engine, and the
    /// engine's own client: how every test of an in-process mount begins. Stop it with `stop`.
    public static func started(name: String, bucket: String) throws -> (DaemonHarness, S3Client) {
        let h = try DaemonHarness(name: name)
        let start = try h.run(["start"])
        guard start.status == 0 else { throw DaemonError(.failed, "the daemon did not start: \(start.stderr)") }
        let client = try h.engineClient()
        try client.createBucket(bucket)
        return (h, client)
    }
}

/// A bucket mounted through FUSE by this process, on a new directory under /tmp (removed by
/// `unmount`), with a cache directory of its own.
public final class InProcessMount: Sendable {
    public let mountpoint: String
    public let vfs: VFS
    let mount: FuseMount

    public init(client: S3Client, bucket: String, readOnly: Bool = false, at existing: String? = nil, fuseOptions: [String] = [],
                configure: (inout VFSOptions) -> Void = { _ in }) throws {
        mountpoint = try existing ?? DaemonHarness.makeTempDir(prefix: "/tmp/gt-mnt-")
        var options = VFSOptions(defaults: AttributeDefaults(uid: 0, gid: 0), readOnly: readOnly,
                                 cacheDir: try DaemonHarness.makeTempDir(prefix: "/tmp/gt-cache-"))
        options.processIsAlive = Sentinel.processIsAlive  // as a real mount has it
        configure(&options)
        vfs = VFS(store: S3ObjectStore(client: client, bucket: bucket), options: options)
        mount = try FuseMount(vfs: vfs, mountpoint: mountpoint, options: fuseOptions)
    }

    /// Unmounts; the directory is removed unless `keepDirectory` (a test mounting it again).
    public func unmount(keepDirectory: Bool = false) {
        mount.unmount()
        try? FileManager.default.removeItem(atPath: vfs.options.cacheDir)
        if !keepDirectory { try? FileManager.default.removeItem(atPath: mountpoint) }
    }
}
