import CGaragetytus
import Credentials
import S3
import Foundation
import Synchronization
import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// `garagetytus serve`: validates everything, then runs the engine, watchdog, metrics and control
/// API until SIGTERM/SIGINT (or a stop over the control socket), and stops them gracefully.
public enum Daemon {
    /// `hostMounts`: this host's mounts and their health, for the dashboard (the workspace layer knows them).
    public static func serve(paths: Paths, logger: Logger, workspaces: any WorkspaceCaches, hostMounts: @escaping @Sendable () -> [HostMount] = { [] },
                             environment: [String: String] = ProcessInfo.processInfo.environment) async throws {
        // 1. Validate before changing anything.
        umask(0o077)
        // Relayed bodies are allocated on one thread and freed on another; with glibc's default of
        // 8 arenas per core that memory lingers (a 5 GiB GET peaked at 183 MiB RSS; 2 arenas: ~75).
        // The relay's 1 MiB read buffers stay in the heap, reused without page faults (faulting
        // them in was 15 % of the daemon's CPU during a big GET); a big transfer trims at its end.
        gt_tune_malloc(8 << 20, 2, 32 << 20)
        try Bootstrap.run(paths: paths)
        let config = try Bootstrap.loadConfig(paths: paths)
        let identity = try EngineIdentity.load(from: config.engine.isCluster ? config.engine.identityFile : paths.identityFile)
        let weed = try WeedLocator.locate(configured: config.engine.weedPath, environment: environment)
        let tls = try GatewayTLS.load(config.gateway, configFile: paths.configFile)
        guard paths.controlSocket.utf8.count < 104 else {
            throw DaemonError(.usage, "the control socket path \(paths.controlSocket) is too long for a Unix socket",
                              fix: "use a shorter GARAGETYTUS_HOME / XDG_DATA_HOME")
        }
        let (sentinel, previous) = try Sentinel.acquire(path: paths.sentinel)
        let counter = UncleanCounter(path: paths.uncleanCounter)
        let store: StateStore
        var unclean: Int
        do {
            unclean = try counter.read()
            try PortCheck.ensureFree(config.hostPorts, address: config.listenAddress, configFile: paths.configFile)
            store = try StateStore(path: paths.stateDB)
            // 2. Commit: from here on this daemon owns the home.
            try sentinel.commit()
        } catch {
            sentinel.abandon()
            throw error
        }
        if case let .unclean(pid, reused) = previous {
            unclean = try counter.increment()
            logger.warning("unclean shutdown detected: sentinel.lock still held pid \(pid)\(reused ? " (now reused by another process)" : ""), the previous daemon did not stop cleanly; unclean_shutdown_total=\(unclean)")
            store.record("unclean_shutdown", "previous pid \(pid); total \(unclean)")
        }
        unlink(paths.controlSocket)
        try? AtomicFile.write("\(getpid())\n", to: paths.pidFile)
        store.record("start", "pid \(getpid()) version \(Version.current)")

        let state = DaemonState(uncleanShutdownTotal: unclean)
        let metrics = DaemonMetrics(uncleanShutdownTotal: unclean)
        let engine: any DaemonEngine
        do {
            engine = config.engine.isCluster
                ? try ClusterEngine(paths: paths, config: config, identity: identity, weedPath: weed, logger: logger)
                : SeaweedEngine(paths: paths, config: config, identity: identity, weedPath: weed, logger: logger,
                                onEvent: EngineSupervision.observer(state: state, metrics: metrics, logger: logger))
        } catch {
            sentinel.release()
            throw error
        }
        defer {
            unlink(paths.pidFile)
            unlink(paths.controlSocket)
        }
        logger.notice("garagetytus \(Version.current) starting (pid \(getpid()), data \(paths.dataDir))")
        do {
            try await engine.start()
        } catch {
            await engine.stop()
            store.record("start_failed", "\(error)")
            sentinel.release()
            throw error
        }
        state.update { $0.engine = .up }
        metrics.setEngineUp(true)
        logger.notice("engine ready: \(engine.kind) S3 on \(engine.s3Endpoint) (internal)")

        let repair = Repair(store: store, engine: engine, logger: logger)
        if case .unclean = previous {
            // Never blocks startup; failures are logged as warnings and swallowed.
            Task {
                let report = await repair.run(trigger: "after unclean shutdown")
                state.update { $0.lastRepair = report }
            }
        }
        let notifier = SystemdNotifier(environment: environment, logger: logger)
        if let every = SystemdNotifier.watchdogInterval(environment: environment), config.watchdog.intervalSeconds * 2 > every {
            logger.warning("systemd expects a sign of life every \(every) s (WatchdogSec) but the watchdog ticks every \(config.watchdog.intervalSeconds) s: set [watchdog] interval_seconds below \(every / 2) or raise WatchdogSec")
        }
        let readiness = Readiness(state: state, logger: logger,
                                  onReady: { notifier?.ready(status: "serving S3 on \(config.gatewayURL)") })
        // The S3 front door: registry (buckets, grants), usage for quotas, audit, forwarding.
        let registry: Registry
        var shared: SharedState?
        do {
            if let cluster = engine as? ClusterEngine {
                shared = try await cluster.sharedState(adminSecret: identity.secretAccessKey)
            }
            registry = try Registry(store: store, limits: .init(maxActiveGrants: config.grants.maxActive, maxMintsPerHour: config.grants.maxMintsPerHour),
                                    shared: shared)
        } catch {
            await engine.stop()
            sentinel.release()
            if let shared = error as? DaemonError { throw shared }
            throw DaemonError(.corrupt, shared == nil ? "cannot read buckets and grants from \(paths.stateDB): \(error)"
                                                      : "cannot read the cluster's buckets and grants (bucket \(config.engine.stateBucket)): \(error)")
        }
        let usage = UsageTracker()
        let audit = AuditLog(path: paths.auditLog, store: store)
        let gatewayMetrics = GatewayMetrics(registry: metrics.registry)
        let forwarder = Forwarder(engine: engine.s3Endpoint, socket: engine.s3Socket,
                                  credentials: S3Credentials(accessKeyID: identity.accessKeyID, secretAccessKey: identity.secretAccessKey))
        defer { Task { await forwarder.shutdown() } }
        let feed = ChangeFeed()
        let dashboard = try Dashboard(state: state, registry: registry, usage: usage, audit: audit, history: gatewayMetrics.history,
                                      engineKind: engine.kind, hostMounts: hostMounts)
        let core = GatewayCore(registry: registry, usage: usage, forwarder: forwarder, state: state, metrics: gatewayMetrics, audit: audit,
                               admin: identity, region: config.region, filer: engine.filer(http: forwarder.client), changes: feed)
        let buckets = BucketService(registry: registry, engine: engine, usage: usage, audit: audit,
                                    endpointURL: config.gatewayURL, logger: logger,
                                    workspaces: workspaces, reservedBucket: shared == nil ? nil : config.engine.stateBucket)
        var heartbeat: (@Sendable () -> Void)?
        if let notifier { heartbeat = { notifier.watchdog() } }
        var engineFree: (@Sendable () async -> Double?)?
        if let cluster = engine as? ClusterEngine { engineFree = { await cluster.freePercent() } }
        let watchdog = Watchdog(paths: paths, config: config.watchdog, state: state, metrics: metrics, logger: logger,
                                reclaim: { await engine.reclaim(budget: .seconds(600)) }, heartbeat: heartbeat,
                                engineFree: engineFree)
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: EngineSupervision(engine: engine, state: state, metrics: metrics, logger: logger)),
                .init(service: watchdog),
                .init(service: MetricsServer.make(config: config, state: state, metrics: metrics, dashboard: dashboard, logger: logger,
                                                  onRunning: { readiness.mark(.metrics) })),
                .init(service: ControlServer.make(paths: paths, config: config, state: state, engine: engine, repair: repair, dashboard: dashboard,
                                                  buckets: buckets, testHooks: environment["GARAGETYTUS_TEST_HOOKS"] == "1",
                                                  logger: logger, onRunning: { readiness.mark(.control) })),
                .init(service: try Gateway.make(config: config, tls: tls, core: core, logger: logger, onRunning: { readiness.mark(.gateway) })),
                // After the gateway, so stopped before it (in reverse order): its end closes the
                // feed, which ends the streams the gateway would otherwise wait for.
                .init(service: ChangeTail(engine: engine, feed: feed, metrics: gatewayMetrics, logger: logger)),
            ] + (shared.map { [.init(service: SharedStateFollower(registry: registry, shared: $0, state: state, feed: feed, bucket: config.engine.stateBucket,
                                                                  logger: logger))] } ?? []) + [

                .init(service: Janitor(service: buckets, metrics: gatewayMetrics, abortUploadsAfter: config.gateway.abortUploadsAfterHours * 3600,
                                               rescanTicks: config.gateway.usageRescanSeconds, logger: logger)),
                // Last, so the first told of a graceful stop.
                .init(service: StoppingNotice(notifier: notifier)),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await group.run()
        } catch {
            logger.error("daemon stopped with an error: \(error)")
            await engine.stop()
            sentinel.release()
            throw DaemonError(.failed, "daemon stopped: \(error)")
        }
        store.record("stop", "clean")
        sentinel.release()
        logger.notice("garagetytus stopped cleanly")
    }
}

/// Marks the daemon ready once every listener runs (the engine is up before they start).
final class Readiness: Sendable {
    enum Part: Sendable { case metrics, control, gateway }
    let state: DaemonState
    let logger: Logger
    let onReady: @Sendable () -> Void
    private let parts = Mutex<Set<String>>([])

    init(state: DaemonState, logger: Logger, onReady: @escaping @Sendable () -> Void = {}) {
        self.state = state
        self.logger = logger
        self.onReady = onReady
    }

    func mark(_ part: Part) {
        let all = parts.withLock { p -> Bool in
            p.insert("\(part)")
            return p.count == 3
        }
        if all {
            state.update { $0.ready = true }
            logger.notice("garagetytus ready")
            onReady()
            // Startup ran a lot of code once (engine spawn, schema, route setup): give those pages
            // back; what the idle daemon runs faults back from the page cache.
            let logger = logger
            Task.detached {
                try? await Task.sleep(for: .seconds(5))
                let released = gt_release_code_pages()
                logger.info("released startup code pages (\(released >> 20) MiB of code mappings advised)")
            }
        }
    }
}
