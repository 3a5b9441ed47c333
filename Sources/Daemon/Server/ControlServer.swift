import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// The control API on a Unix socket (0600): the CLI's only way to talk to the running daemon.
///
/// - `GET /v1/status` → `DaemonStatus`
/// - `POST /v1/repair` → `RepairReport`
/// - `POST /v1/shutdown` → 202, then a graceful stop
enum ControlServer {
    static func make(paths: Paths, config: Config, state: DaemonState, engine: any DaemonEngine, repair: Repair, dashboard: Dashboard, buckets: BucketService,
                     testHooks: Bool, logger: Logger, onRunning: @escaping @Sendable () -> Void) -> some Service {
        let router = Router()
        addBucketRoutes(router, service: buckets, testHooks: testHooks)
        router.get("/v1/status") { _, _ -> Response in
            json(status(paths: paths, config: config, state: state, engine: engine))
        }
        router.post("/v1/repair") { req, _ -> Response in
            try await answerWithProgress(req) { progress in
                let report = await repair.run(trigger: "on demand", progress: progress)
                state.update { $0.lastRepair = report }
                return report
            }
        }
        router.post("/v1/dashboard") { _, _ -> Response in
            // A one-time link to the dashboard, on the metrics listener (plain HTTP, this host).
            json(DashboardLink(url: "http://\(config.metricsAddress):\(config.metricsPort)/dashboard?token=\(dashboard.access.issueToken())",
                               validSeconds: Int(DashboardAccess.tokenLife)))
        }
        router.post("/v1/shutdown") { _, _ -> Response in
            logger.notice("stop requested over the control socket")
            // The same path as SIGTERM: the service group shuts everything down gracefully.
            kill(getpid(), SIGTERM)
            return Response(status: .accepted)
        }
        return Application(router: router,
                           configuration: .init(address: .unixDomainSocket(path: paths.controlSocket), serverName: nil),
                           onServerRunning: { _ in
                               chmod(paths.controlSocket, 0o600)
                               onRunning()
                           },
                           logger: logger)
    }

    static func status(paths: Paths, config: Config, state: DaemonState, engine: any DaemonEngine) -> DaemonStatus {
        let s = state.snapshot
        let base = "http://\(config.metricsAddress):\(config.metricsPort)"
        return DaemonStatus(
            running: true, ready: s.ready, pid: getpid(),
            uptimeSeconds: Date().timeIntervalSince(state.startedAt), mode: s.mode, diskFreePct: s.diskFreePct,
            engine: .init(kind: engine.kind, state: s.engine.rawValue, pid: engine.currentPID, restarts: s.engineRestarts, lastError: s.engineLastError),
            endpoints: .init(metrics: base + "/metrics", health: base + "/healthz", controlSocket: paths.controlSocket),
            uncleanShutdownTotal: s.uncleanShutdownTotal, version: Version.current, dataDir: paths.dataDir,
            lastRepair: s.lastRepair, sharedStateAgeSeconds: s.sharedStateReadAt.map { Date().timeIntervalSince($0) })
    }

    static func json<T: Encodable>(_ value: T) -> Response {
        let data = (try? DaemonStatus.encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
