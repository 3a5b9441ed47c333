import ArgumentParser
import Daemon
import Foundation
import S3

/// `garagetytus audit`: the audit record kept in the state DB.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Show the audit record: mints, revokes, deny-all, expiry, workspace grants, refusals.",
        discussion: """
        Kept in the state DB, so neither log rotation nor a flood of refused requests drops it (refusals before a signature is verified are counted per source, one line a minute). --since takes a duration back from now (90s, 30m, 2h, 7d) or a UTC time (2026-12-01T09:00:00Z).

        Examples:
          garagetytus audit --since 1h
          garagetytus audit --event grant_revoked --json | jq '.[].fields.grant_id'
        """)

    @Option(help: "Only events since this (a duration back from now, or an ISO 8601 UTC time).") var since: String?
    @Option(help: "Only events of this name (grant_minted, grant_revoked, bucket_deny_all, unauthenticated_refused, ...).") var event: String?
    @Option(help: "At most this many events (the newest).") var limit = 1000
    @OptionGroup var output: JSONOption

    /// `since` as a time: "90s", "30m", "2h", "7d" back from `now`, or an ISO 8601 time.
    static func parseSince(_ text: String, now: Date = Date()) throws -> Date {
        if let t = UTCTime.parseISO8601(text) { return t }
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        if let unit = text.last, let scale = units[unit], let n = Double(text.dropLast()), n >= 0, n.isFinite {
            return now.addingTimeInterval(-n * scale)
        }
        throw DaemonError(.usage, "--since \(text.prefix(40)) is neither a duration nor a time", fix: "use e.g. 30m, 2h, 7d or 2026-12-01T09:00:00Z")
    }

    func run() async throws {
        try await CLIRunner.run {
            guard (1...100_000).contains(limit) else { throw DaemonError(.usage, "--limit must be between 1 and 100000") }
            let from = try since.map { try Self.parseSince($0) }
            var query = ["limit=\(limit)"]
            if let from { query.append("since=\(from.timeIntervalSince1970)") }
            if let event { query.append("event=\(event.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")") }
            let events = try ControlClient.current().json("GET", "/v1/audit?" + query.joined(separator: "&"), as: [AuditEvent].self)
            if output.json { CLIRunner.printJSON(events); return }
            if events.isEmpty { print("no audit events\(since.map { " since \($0)" } ?? "")"); return }
            for e in events {
                print("\(e.at)  \(e.event)  " + e.fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
            }
        }
    }
}
