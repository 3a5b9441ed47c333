import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// HTTP on `metrics_port` (of `listen_address` when that is loopback, else of 127.0.0.1): `/metrics` (Prometheus text), `/healthz`, `/readyz`.
enum MetricsServer {
    static func make(config: Config, state: DaemonState, metrics: DaemonMetrics, dashboard: Dashboard? = nil, logger: Logger,
                     onRunning: @escaping @Sendable () -> Void) -> some Service {
        let router = Router()
        dashboard?.addRoutes(router)
        router.get("/metrics") { _, _ -> Response in
            let text = metrics.render(startedAt: state.startedAt)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("/healthz") { _, _ -> Response in
            if let reason = state.unhealthyReason {
                return text(.serviceUnavailable, "unhealthy: \(reason)\n")
            }
            return text(.ok, "ok\n")
        }
        router.get("/readyz") { _, _ -> Response in
            let s = state.snapshot
            if !s.ready { return text(.serviceUnavailable, "not ready: starting\n") }
            if let reason = state.unhealthyReason { return text(.serviceUnavailable, "not ready: \(reason)\n") }
            return text(.ok, "ready\n")
        }
        return Application(router: router,
                           configuration: .init(address: .hostname(config.metricsAddress, port: config.metricsPort), serverName: nil),
                           onServerRunning: { _ in onRunning() },
                           logger: logger)
    }

    static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
