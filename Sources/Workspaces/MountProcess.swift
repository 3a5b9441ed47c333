import CGaragetytus
import Credentials
import Daemon
import Foundation
import Mount
import S3
#if canImport(Glibc)
import Glibc
#endif

/// Runs a mount in the foreground, or starts one in the background and waits until it answers.
struct MountRunner {
    let spec: MountSpec

    func runForeground() throws {
        try FileManager.default.createDirectory(atPath: spec.cacheDir, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: (spec.registryFile as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let stale = StagingIO.removeStale(in: spec.cacheDir, isAlive: Sentinel.processIsAlive)
        if stale.files > 0 {
            FileHandle.standardError.write(Data("\(UTCTime.iso8601Millis(Date())) removed \(stale.files) staging file(s) (\(stale.bytes) bytes) left by a mount process that was killed: files open at the kill were never closed, so never uploaded\n".utf8))
        }
        let creds = spec.credentials
        let metrics = MountMetrics()
        let registry = MountRegistry.Writer(file: spec.registryFile, fields: ["mountpoint": spec.mountpoint, "source": spec.source,
                                                                              "log": spec.logFile, "workspace": spec.workspace ?? ""])
        let source = CredentialSource(initial: creds, expiry: spec.credentialExpiry, file: spec.credentialsFile,
                                      switchOnRejection: spec.switchCredentialsOnRejection,
                                      onChange: { fresh, expiry in
                                          metrics.setCredentialExpiry(expiry?.timeIntervalSince1970)
                                          // Reported in the registry: `workspace rotate` revokes the old key once every mount switched.
                                          try? registry.write(accessKeyID: fresh.accessKeyID)
                                          FileHandle.standardError.write(Data("\(UTCTime.iso8601Millis(Date())) credentials reloaded from \(spec.credentialsFile ?? "-")\n".utf8))
                                      })
        let client = S3Client(endpoint: spec.endpoint, region: spec.region, retry: MountSpec.retry, timeout: spec.ioTimeout,
                              observer: { op, method, status, bytes, retry in
                                  metrics.request(operation: op, method: method, status: status, bytes: bytes, retry: retry)
                              },
                              rejected: { source.rejected() }, credentials: { source.current() })
        var options = VFSOptions(prefix: spec.prefix, metadataTTL: spec.metadataTTL,
                                 defaults: spec.defaults, readOnly: spec.readOnly, cacheDir: spec.cacheDir)
        options.processIsAlive = Sentinel.processIsAlive
        options.onError = { message in
            FileHandle.standardError.write(Data("\(UTCTime.iso8601Millis(Date())) error: \(message)\n".utf8))
        }
        options.info = ["endpoint": spec.endpoint.absoluteString, "bucket": spec.bucket, "region": spec.region,
                        "mountpoint": spec.mountpoint, "access_key_id": CachedCredentials.mask(creds.accessKeyID)]
        metrics.setCredentialExpiry(spec.credentialExpiry?.timeIntervalSince1970)
        let vfs = VFS(store: S3ObjectStore(client: client, bucket: spec.bucket), options: options, metrics: metrics)
        // Big buffers (read-ahead chunks, upload parts) straight from mmap and back: glibc would
        // otherwise raise its mmap threshold after the first free and keep them in per-thread arenas.
        gt_tune_malloc(1 << 20, 4, 0)
        // Registered before the kernel mount: `mount` returns as soon as the directory answers,
        // and what runs next (`unmount`, a rotation) must find this process in the registry.
        try registry.write(accessKeyID: source.current().accessKeyID)
        let mount: FuseMount
        do {
            mount = try FuseMount(vfs: vfs, mountpoint: spec.mountpoint, options: spec.allowOther ? ["allow_other"] : [])
        } catch {
            unlink(spec.registryFile)
            throw error
        }
        // An idle mount follows its credentials file too (a stat a second), so a rotation sees it switch.
        var follow: DispatchSourceTimer?
        if spec.credentialsFile != nil && !spec.switchCredentialsOnRejection {
            let timer = DispatchSource.makeTimerSource(queue: .global())
            timer.schedule(deadline: .now() + 1, repeating: 1)
            timer.setEventHandler { _ = source.current() }
            timer.resume()
            follow = timer
        }
        FileHandle.standardError.write(Data("mounted \(spec.source) on \(spec.mountpoint)\n".utf8))
        // SIGTERM / SIGINT / SIGHUP: unmount cleanly (uploads happen at close, so nothing is pending after it).
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT, SIGHUP] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { mount.requestUnmount() }
            s.resume()
            sources.append(s)
        }
        mount.waitUntilEnded()
        mount.unmount()
        unlink(spec.registryFile)
        try? FileManager.default.removeItem(atPath: spec.cacheDir)
        FileHandle.standardError.write(Data("unmounted \(spec.mountpoint)\n".utf8))
        follow?.cancel()
        _ = sources
    }


    /// Spawns `mount --foreground` detached, logging to the mount's log file; returns its pid once the
    /// directory answers through the kernel.
    func startInBackground(timeout: Double) throws -> Int32 {
        try FileManager.default.createDirectory(atPath: spec.paths.logDir, withIntermediateDirectories: true)
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
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
    static func registeredPID(_ mountpoint: String, paths: Paths) throws -> Int32? {
        try MountRegistry.read(MountSpec.registryFile(for: mountpoint, paths: paths))?.pid
    }

    /// Unmounts `mountpoint` and waits for its process; cleans up a stale mount.
    static func unmount(_ mountpoint: String, paths: Paths, timeout: Double) throws -> String {
        let registry = MountSpec.registryFile(for: mountpoint, paths: paths)
        let pid = try registeredPID(mountpoint, paths: paths)
        let alive = pid.map(Sentinel.processIsAlive) ?? false
        guard MountSpec.isMounted(mountpoint) else {
            unlink(registry)
            throw DaemonError(.usage, "\(mountpoint) is not mounted")
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
