import Foundation

/// A mount of this host as the dashboard shows it (the workspace layer reports them, see
/// `Daemon.serve`'s `hostMounts`).
public struct HostMount: Sendable, Equatable {
    public var mountpoint: String
    public var workspace: String
    public var healthy: Bool
    public var detail: String

    public init(mountpoint: String, workspace: String, healthy: Bool, detail: String) {
        self.mountpoint = mountpoint
        self.workspace = workspace
        self.healthy = healthy
        self.detail = detail
    }
}

/// What the dashboard's template renders: plain values, formatted here (mustache has no logic).
struct DashboardView {
    struct Bucket { var name: String; var ttl: String; var expires: String; var expiresEpoch: Int64; var used: String; var quota: String
        var usedPct: Int; var denyAll: String }
    struct Grant { var id: String; var bucket: String; var label: String; var perms: String; var expires: String; var expiresEpoch: Int64 }
    struct Mount { var mountpoint: String; var workspace: String; var health: String; var healthy: Bool; var detail: String }
    struct Event { var at: String; var event: String; var details: String }
    struct Chart { var title: String; var total: String; var svg: String }

    var generated: String
    var mode: String
    var readOnly: Bool
    var disk: String
    var engine: String
    var health: String
    var healthy: Bool
    var buckets: [Bucket]
    var grants: [Grant]
    var mounts: [Mount]
    var events: [Event]
    var charts: [Chart]
    // Stored, not computed: the template engine reads stored properties.
    var noBuckets = false
    var noGrants = false
    var noMounts = false

    static func bytes(_ n: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(n), i = 0
        while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
        return i == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[i])
    }

    /// A small line chart of one value per minute (inline SVG: no script, no library).
    static func sparkline(_ values: [Int64], width: Int = 300, height: Int = 60) -> String {
        let top = max(values.max() ?? 0, 1)
        let step = Double(width) / Double(max(values.count - 1, 1))
        let points = values.enumerated().map { i, v in
            String(format: "%.1f,%.1f", Double(i) * step, Double(height) - Double(v) / Double(top) * Double(height - 4) - 2)
        }.joined(separator: " ")
        return "<svg viewBox=\"0 0 \(width) \(height)\" width=\"\(width)\" height=\"\(height)\" role=\"img\">"
            + "<polyline fill=\"none\" stroke=\"currentColor\" stroke-width=\"2\" points=\"\(points)\"/></svg>"
    }
}
