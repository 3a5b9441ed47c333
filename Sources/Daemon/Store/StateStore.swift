import Foundation
import GRDB
import S3

/// The daemon's state database (SQLite, WAL; the daemon is its only writer).
///
/// A file that is not SQLite, fails to open, or was migrated by a newer garagetytus is refused and
/// left exactly as it is.
public final class StateStore: Sendable {
    public let path: String
    let pool: DatabasePool

    /// Schema migrations, in order. Later layers append theirs (buckets, grants, ...).
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-events") { db in
            try db.create(table: "meta") { t in
                t.column("key", .text).primaryKey()
                t.column("value", .text).notNull()
            }
            try db.create(table: "events") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("at", .double).notNull()
                t.column("kind", .text).notNull()
                t.column("detail", .text).notNull()
            }
        }
        Registry.migrate(&m)
        migrateAudit(&m)
        return m
    }

    public init(path: String) throws {
        self.path = path
        let refuse = { (why: String) in
            DaemonError(.corrupt, "state database \(path) \(why); refusing to start so nothing in it is overwritten",
                        fix: "restore it from a backup, or move it aside to start with an empty state")
        }
        if FileManager.default.fileExists(atPath: path) {
            let header = FileHandle(forReadingAtPath: path).flatMap { try? $0.read(upToCount: 16) } ?? Data()
            if !header.isEmpty && header != Data("SQLite format 3\0".utf8) {
                throw refuse("is not an SQLite database")
            }
        }
        let migrator = Self.migrator
        // Inspect read-only first: opening a pool writes to the file, and a refused file must stay as it is.
        if FileManager.default.fileExists(atPath: path) {
            var ro = Configuration()
            ro.readonly = true
            let superseded: Bool
            do {
                let queue = try DatabaseQueue(path: path, configuration: ro)
                superseded = try queue.read { db in try migrator.hasBeenSuperseded(db) }
                try queue.close()
            } catch {
                throw refuse("cannot be read (\(error))")
            }
            if superseded {
                throw DaemonError(.corrupt, "state database \(path) was written by a newer garagetytus; refusing to start so nothing in it is overwritten",
                                  fix: "upgrade garagetytus to the version that wrote it")
            }
        }
        var config = Configuration()
        config.busyMode = .timeout(5)
        do {
            pool = try DatabasePool(path: path, configuration: config)
        } catch {
            throw refuse("cannot be opened (\(error))")
        }
        do {
            try migrator.migrate(pool)
        } catch {
            throw refuse("cannot be migrated (\(error))")
        }
    }

    /// Appends an audit event.
    public func record(_ kind: String, _ detail: String, at: Date = Date()) {
        _ = try? pool.write { db in
            try db.execute(sql: "INSERT INTO events (at, kind, detail) VALUES (?, ?, ?)", arguments: [at.timeIntervalSince1970, kind, detail])
        }
    }

    /// The newest events, newest first.
    public func recentEvents(limit: Int = 20) throws -> [(at: Date, kind: String, detail: String)] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT at, kind, detail FROM events ORDER BY id DESC LIMIT ?", arguments: [limit]).map {
                (Date(timeIntervalSince1970: $0["at"]), $0["kind"], $0["detail"])
            }
        }
    }

    /// `PRAGMA integrity_check`: "ok", or the problems SQLite found.
    public func integrityCheck() -> RepairStep {
        do {
            let rows = try pool.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
            let ok = rows == ["ok"]
            return RepairStep(name: "state db integrity_check", ok: ok, detail: ok ? "ok" : rows.prefix(5).joined(separator: "; "))
        } catch {
            return RepairStep(name: "state db integrity_check", ok: false, detail: "\(error)")
        }
    }
}
