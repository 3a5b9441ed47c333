import CGaragetytus
import Credentials
import Daemon
import Foundation
import Logging
import Mount
import S3
#if canImport(Glibc)
import Glibc
#endif

/// A live mount, assembled: the VFS over the store, credentials that follow their file, the
/// registry record, staging clean-up, signals. `run()` serves until unmounted or signalled.
public struct MountProcess {
    public let spec: MountSpec
    let log: Logger

    /// `log`: the mount's logger (`MountLog.bootstrap()`), whose lines go to the mount's log file.
    public init(spec: MountSpec, log: Logger) {
        self.spec = spec
        self.log = log
    }

    public func run() throws {
        try FileManager.default.createDirectory(atPath: spec.cacheDir, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: (spec.registryFile as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let stale = StagingIO.removeStale(in: spec.cacheDir, isAlive: Sentinel.processIsAlive)
        if stale.files > 0 {
            log.warning("removed \(stale.files) staging file(s) (\(stale.bytes) bytes) left by a mount process that was killed: files open at the kill were never closed, so never uploaded")
        }
        let creds = spec.credentials
        let metrics = MountMetrics()
        let registry = MountRegistry.Writer(file: spec.registryFile, fields: ["mountpoint": spec.mountpoint, "source": spec.source,
                                                                              "log": spec.logFile, "workspace": spec.workspace ?? ""])
        let source = CredentialSource(initial: creds, expiry: spec.credentialExpiry, file: spec.credentialsFile,
                                      switchOnRejection: spec.switchCredentialsOnRejection,
                                      onChange: { [log, file = spec.credentialsFile] fresh, expiry in
                                          metrics.setCredentialExpiry(expiry?.timeIntervalSince1970)
                                          // Reported in the registry: `workspace rotate` revokes the old key once every mount switched.
                                          try? registry.write(accessKeyID: fresh.accessKeyID)
                                          log.notice("credentials reloaded from \(file ?? "-")", metadata: ["access_key_id": "\(fresh.accessKeyID)"])
                                      })
        let client = S3Client(endpoint: spec.endpoint, region: spec.region, retry: MountSpec.retry, timeout: spec.ioTimeout,
                              observer: { op, method, status, bytes, retry in
                                  metrics.request(operation: op, method: method, status: status, bytes: bytes, retry: retry)
                              },
                              rejected: { source.rejected() }, caFile: spec.caFile, credentials: { source.current() })
        var options = VFSOptions(prefix: spec.prefix, metadataTTL: spec.metadataTTL,
                                 defaults: spec.defaults, readOnly: spec.readOnly, cacheDir: spec.cacheDir)
        options.processIsAlive = Sentinel.processIsAlive
        options.extendedAttributes = spec.extendedAttributes
        options.onError = { [log] message in log.error("\(message)") }
        options.info = ["endpoint": spec.endpoint.absoluteString, "bucket": spec.bucket, "region": spec.region,
                        "mountpoint": spec.mountpoint, "access_key_id": CachedCredentials.mask(creds.accessKeyID)]
        metrics.setCredentialExpiry(spec.credentialExpiry?.timeIntervalSince1970)
        if case .on(let capacity) = spec.dataCache {
            options.blockCache = BlockCache(BlockCache.Options(directory: spec.blockCacheDirectory, capacity: capacity),
                                            onError: { [log] message in log.warning("\(message)") })
        }
        let attributes = AttributeCache(path: spec.attributeCacheFile, onError: { [log] message in log.warning("\(message)") })
        let s3 = S3ObjectStore(client: client, bucket: spec.bucket)
        let store = AttributeCachedStore(s3, cache: attributes)
        let vfs = VFS(store: store, options: options, metrics: metrics)
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
        // Changes made by other clients through the daemon, as they happen (see ChangeFollower).
        let follower = spec.followChanges ? ChangeFollower(client: s3.client, bucket: spec.bucket, vfs: vfs, log: { [log] message in log.notice("\(message)") }) : nil
        follower?.start()
        // An idle mount follows its credentials file too (a stat a second), so a rotation sees it switch.
        var follow: DispatchSourceTimer?
        if spec.credentialsFile != nil && !spec.switchCredentialsOnRejection {
            let timer = DispatchSource.makeTimerSource(queue: .global())
            timer.schedule(deadline: .now() + 1, repeating: 1)
            timer.setEventHandler { _ = source.current() }
            timer.resume()
            follow = timer
        }
        log.notice("mounted \(spec.source) on \(spec.mountpoint)", metadata: ["access_key_id": "\(creds.accessKeyID)"])
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
        follower?.stop()
        mount.unmount()
        vfs.contents.drain()  // blocks of what was just read or written, for the next mount
        unlink(spec.registryFile)
        try? FileManager.default.removeItem(atPath: spec.cacheDir)
        log.notice("unmounted \(spec.mountpoint)")
        follow?.cancel()
        _ = sources
    }
}
