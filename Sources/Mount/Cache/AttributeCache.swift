import Foundation
import GRDB
import S3
import Synchronization

/// What HEADs said about objects, kept on disk across mounts (one SQLite file per endpoint and
/// bucket) so that a listing entry whose ETag, size and LastModified are those the HEAD saw needs
/// no HEAD again. It is a cache: any failure to open, read or write it is a miss, told to
/// `onError` (the first of each kind), never an error of the filesystem; a file SQLite cannot read
/// is replaced by an empty one.
public final class AttributeCache: Sendable {
    let queue: DatabaseQueue?
    /// At most this many objects are kept; beyond it the longest unrefreshed go first.
    let capacity: Int
    private let report: @Sendable (String) -> Void
    private let told = Mutex<Set<String>>([])

    public init(path: String, capacity: Int = 500_000, onError: @escaping @Sendable (String) -> Void = { _ in }) {
        self.capacity = capacity
        report = onError
        queue = Self.open(path, onError: onError)
    }

    /// Tells the first failure of each kind (a failing disk would otherwise log every HEAD).
    func onError(_ message: String) {
        let kind = String(message.prefix(while: { $0 != ":" }))
        if told.withLock({ $0.insert(kind).inserted }) { report(message) }
    }

    static func open(_ path: String, onError: @Sendable (String) -> Void) -> DatabaseQueue? {
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        } catch {
            onError("attribute cache: cannot create the directory of \(path): \(error); HEADs are not remembered")
            return nil
        }
        for attempt in 0..<2 {
            do {
                var config = Configuration()
                config.busyMode = .timeout(2)
                config.prepareDatabase { db in
                    // A cache: a crash may lose its last writes, never its consistency.
                    try db.execute(sql: "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF")
                }
                let q = try DatabaseQueue(path: path, configuration: config)
                try q.write { db in
                    try db.execute(sql: """
                        CREATE TABLE IF NOT EXISTS attrs (key TEXT PRIMARY KEY, etag TEXT NOT NULL, size INTEGER NOT NULL,
                          modified INTEGER NOT NULL, metadata BLOB NOT NULL, content_type TEXT)
                        """)
                }
                guard try q.read({ try String.fetchOne($0, sql: "PRAGMA quick_check") }) == "ok" else {
                    throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "quick_check failed")
                }
                return q
            } catch {
                if attempt == 0 {
                    onError("attribute cache \(path) is unreadable (\(error)); starting an empty one")
                    for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
                } else {
                    onError("attribute cache \(path) cannot be used (\(error)); HEADs are not remembered")
                }
            }
        }
        return nil
    }

    /// `listed` with the metadata the cache holds for each entry that has not changed since its
    /// HEAD (same ETag, size and LastModified to the second); other entries as they were.
    public func fill(_ listed: [ObjectMeta]) -> [ObjectMeta] {
        guard let queue, listed.contains(where: { !$0.hasMetadata && $0.etag != nil }) else { return listed }
        do {
            return try queue.read { db in
                let statement = try db.cachedStatement(sql: "SELECT etag, size, modified, metadata, content_type FROM attrs WHERE key = ?")
                return try listed.map { entry in
                    guard !entry.hasMetadata, let etag = entry.etag, let modified = entry.lastModified,
                          let row = try Row.fetchOne(statement, arguments: [entry.key]),
                          row["etag"] as String == etag, row["size"] as Int64 == entry.size,
                          row["modified"] as Int64 == Self.seconds(modified),
                          let metadata = try? JSONDecoder().decode([String: String].self, from: row["metadata"] as Data) else { return entry }
                    var e = entry
                    e.metadata = metadata
                    e.contentType = row["content_type"]
                    e.hasMetadata = true
                    return e
                }
            }
        } catch {
            onError("attribute cache read failed: \(error)")
            return listed
        }
    }

    /// Keeps what a HEAD said — only of an object last modified `settled` seconds or more before
    /// now: a change after this HEAD then lists with a later LastModified second, so a cached
    /// answer can never outlive the version it describes (a metadata-only copy keeps the ETag and
    /// the size; within the same second it would keep the LastModified too). Answers without an
    /// ETag or a date cannot be validated and are not kept.
    public func keep(_ meta: ObjectMeta, now: Date = Date()) {
        guard let queue, meta.hasMetadata, let etag = meta.etag, let modified = meta.lastModified,
              modified.timeIntervalSince(now) <= -Self.settled,
              let metadata = try? JSONEncoder().encode(meta.metadata) else { return }
        do {
            try queue.write { db in
                // REPLACE gives the row a new rowid: the oldest rowids are the longest unrefreshed.
                try db.execute(sql: "INSERT OR REPLACE INTO attrs VALUES (?, ?, ?, ?, ?, ?)",
                               arguments: [meta.key, etag, meta.size, Self.seconds(modified), metadata, meta.contentType])
                if db.lastInsertedRowID % 1000 == 0 {
                    try db.execute(sql: "DELETE FROM attrs WHERE rowid <= (SELECT MAX(rowid) FROM attrs) - ?", arguments: [capacity])
                }
            }
        } catch {
            onError("attribute cache write failed: \(error)")
        }
    }

    /// Seconds between an object's LastModified and a HEAD whose answer is kept (clock skew
    /// between this host and the endpoint included).
    static let settled = 5.0

    /// How many objects it holds (for tests and `.stats`).
    public var count: Int {
        guard let queue, let n = try? queue.read({ try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM attrs") }) else { return 0 }
        return n
    }

    static func seconds(_ d: Date) -> Int64 { Int64(d.timeIntervalSince1970.rounded(.down)) }
}
