import Foundation
import GRDB
import S3

/// One audit event as kept in the state DB.
public struct AuditEvent: Codable, Sendable, Equatable {
    public var at: String
    public var event: String
    public var fields: [String: String]
}

/// The audit record in the state DB: what `garagetytus audit` reads. Unlike the log file it is
/// never rotated away.
extension StateStore {
    static func migrateAudit(_ m: inout DatabaseMigrator) {
        m.registerMigration("v5-audit") { db in
            try db.create(table: "audit") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("at", .double).notNull().indexed()
                t.column("event", .text).notNull()
                t.column("fields", .text).notNull()  // a JSON object of strings
            }
        }
    }

    /// Appends an event; never throws (a full disk must not stop what is being audited).
    func recordAudit(at: Date, event: String, fields: [(String, String)]) {
        var map: [String: String] = [:]
        for (k, v) in fields { map[k] = v }
        let json = (try? JSONSerialization.data(withJSONObject: map, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        _ = try? pool.write { db in
            try db.execute(sql: "INSERT INTO audit (at, event, fields) VALUES (?, ?, ?)", arguments: [at.timeIntervalSince1970, event, json])
        }
    }

    /// Events at or after `since`, oldest first, at most `limit` (the newest ones when there are more);
    /// only those named `event` when given.
    public func auditEvents(since: Date, event: String? = nil, limit: Int = 1000) throws -> [AuditEvent] {
        try pool.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT at, event, fields FROM audit WHERE at >= ? AND (? IS NULL OR event = ?) ORDER BY id DESC LIMIT ?
                """, arguments: [since.timeIntervalSince1970, event, event, limit])
            return rows.reversed().map { row in
                let text: String = row["fields"]
                let fields = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: String] ?? [:]
                return AuditEvent(at: UTCTime.iso8601Millis(Date(timeIntervalSince1970: row["at"])), event: row["event"], fields: fields)
            }
        }
    }
}
