import Foundation
import Mustache

/// `garagetytus dashboard`: one page on the metrics port with the daemon's state, its buckets and
/// grants (never a secret), this host's mounts, the last audit events and the last hour's
/// traffic, rendered on the server from `DashboardTemplates`.
public final class Dashboard: Sendable {
    let state: DaemonState
    let registry: Registry
    let usage: UsageTracker
    let audit: AuditLog
    let history: TrafficHistory
    let engineKind: String
    let hostMounts: @Sendable () -> [HostMount]
    public let access = DashboardAccess()
    private let library: MustacheLibrary

    init(state: DaemonState, registry: Registry, usage: UsageTracker, audit: AuditLog, history: TrafficHistory, engineKind: String,
         hostMounts: @escaping @Sendable () -> [HostMount]) throws {
        self.state = state
        self.registry = registry
        self.usage = usage
        self.audit = audit
        self.history = history
        self.engineKind = engineKind
        self.hostMounts = hostMounts
        library = MustacheLibrary(templates: ["page": try MustacheTemplate(string: DashboardTemplates.page),
                                              "panels": try MustacheTemplate(string: DashboardTemplates.panels)])
    }

    func page() -> String { library.render(view(), withTemplate: "page") ?? "" }
    func panels() -> String { library.render(view(), withTemplate: "panels") ?? "" }

    func view() -> DashboardView {
        let s = state.snapshot
        let now = Date()
        let buckets = registry.snapshot.buckets.values.sorted { $0.name < $1.name }.map { b in
            let used = usage.usage(bucket: b.name).bytes
            return DashboardView.Bucket(
                name: b.name, ttl: b.ttl, expires: b.expiresAt.map(Policy.stamp) ?? "never", expiresEpoch: b.expiresAt.map { Int64($0.timeIntervalSince1970) } ?? 0,
                used: DashboardView.bytes(used), quota: b.quotaBytes.map(DashboardView.bytes) ?? "unlimited",
                usedPct: b.quotaBytes.map { $0 > 0 ? Int(min(100, used * 100 / $0)) : 0 } ?? 0,
                denyAll: b.denyAllUntil.flatMap { $0 > now ? "deny-all until \(Policy.stamp($0))" : nil } ?? "")
        }
        let grants = registry.snapshot.grantsByKey.values.filter { $0.state == .active && $0.expiresAt > now }
            .sorted { $0.expiresAt < $1.expiresAt }.map { g in
                DashboardView.Grant(id: g.id, bucket: g.bucket, label: g.label, perms: GrantSpec.permissionsText(g.permissions),
                                    expires: Policy.stamp(g.expiresAt), expiresEpoch: Int64(g.expiresAt.timeIntervalSince1970))
            }
        let mounts = hostMounts().map { m in
            DashboardView.Mount(mountpoint: m.mountpoint, workspace: m.workspace, health: m.healthy ? "healthy" : "unhealthy", healthy: m.healthy,
                                detail: m.detail)
        }
        let events = ((try? audit.store?.auditEvents(since: .distantPast, limit: 15)) ?? []).reversed().map { e in
            DashboardView.Event(at: e.at, event: e.event,
                                details: e.fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        }
        let minutes = history.lastHour
        func chart(_ title: String, _ values: [Int64], _ total: (Int64) -> String) -> DashboardView.Chart {
            DashboardView.Chart(title: title, total: total(values.reduce(0, +)), svg: DashboardView.sparkline(values))
        }
        let charts = [chart("requests per minute", minutes.map(\.requests)) { "\($0) in the hour" },
                      chart("bytes in per minute", minutes.map(\.bytesIn)) { DashboardView.bytes($0) + " in the hour" },
                      chart("bytes out per minute", minutes.map(\.bytesOut)) { DashboardView.bytes($0) + " in the hour" }]
        let problem = state.unhealthyReason
        var v = DashboardView(generated: "updated \(Policy.stamp(now))", mode: s.mode.rawValue, readOnly: s.mode == .ro,
                              disk: s.diskFreePct.map { String(format: "%.1f %% free", $0) } ?? "not measured yet",
                              engine: "\(engineKind) \(s.engine.rawValue)", health: problem ?? "healthy", healthy: problem == nil,
                              buckets: buckets, grants: grants, mounts: mounts, events: events, charts: charts)
        v.noBuckets = buckets.isEmpty
        v.noGrants = grants.isEmpty
        v.noMounts = mounts.isEmpty
        return v
    }
}
