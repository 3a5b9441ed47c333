import Foundation
import Synchronization

/// Counters of one mount, rendered as Prometheus text in `<mountpoint>/.stats`.
public final class MountMetrics: Sendable {
    struct State {
        var ops: [String: (count: Int, seconds: Double, errors: Int)] = [:]
        var fuseBytesRead: Int64 = 0
        var fuseBytesWritten: Int64 = 0
        var requests: [String: Int] = [:]        // "METHOD status"
        var objectBytes: [String: Int64] = [:]   // method
        var retries = 0
        var cacheHits = 0
        var cacheMisses = 0
        var uploadsFailed = 0
        var readAheadHits = 0
        var readAheadMisses = 0
        var pagesHandedOver: Int64 = 0
        var credentialExpiry: Double = 0
        var changesApplied = 0
        var feedResets = 0
    }

    private let state = Mutex(State())
    public let startedAt = Date()

    public init() {}

    /// A FUSE request arrived: counted before it is answered, so whatever the kernel does after
    /// the reply (reading `.stats`, say) already sees it.
    public func opStarted(_ name: String) {
        state.withLock { s in s.ops[name, default: (0, 0, 0)].count += 1 }
    }

    /// The request `opStarted` counted was answered after `seconds`.
    public func op(_ name: String, seconds: Double, failed: Bool) {
        state.withLock { s in
            var e = s.ops[name] ?? (0, 0, 0)
            e.seconds += seconds
            if failed { e.errors += 1 }
            s.ops[name] = e
        }
    }

    public func fuseRead(_ bytes: Int, fromCache: Bool) {
        state.withLock { s in
            s.fuseBytesRead += Int64(bytes)
            if fromCache { s.cacheHits += 1 } else { s.cacheMisses += 1 }
        }
    }

    /// A read served by read-ahead: a hit when its bytes were already fetched, a miss when it waited.
    public func readAhead(hit: Bool) {
        state.withLock { s in
            if hit { s.readAheadHits += 1 } else { s.readAheadMisses += 1 }
        }
    }

    /// When the mount's credentials expire (seconds since 1970), or nil when they do not.
    public func setCredentialExpiry(_ t: Double?) { state.withLock { $0.credentialExpiry = t ?? 0 } }

    public func fuseWritten(_ bytes: Int) { state.withLock { $0.fuseBytesWritten += Int64(bytes) } }

    /// One answered object request; bytes count only for object data (GetObject, PutObject, UploadPart).
    public func request(operation: String, method: String, status: Int, bytes: Int64, retry: Bool) {
        let isData = ["GetObject", "PutObject", "UploadPart"].contains { operation.hasPrefix($0 + " ") }
        state.withLock { s in
            s.requests["\(method) \(status)", default: 0] += 1
            if isData && (200..<300).contains(status) { s.objectBytes[method, default: 0] += bytes }
            if retry { s.retries += 1 }
        }
    }

    /// A change from the feed was applied; the feed said to revalidate everything.
    public func changeApplied() { state.withLock { $0.changesApplied += 1 } }
    public func feedReset() { state.withLock { $0.feedResets += 1 } }

    public func uploadFailed() { state.withLock { $0.uploadsFailed += 1 } }

    /// Bytes put in the kernel's page cache before reads asked for them (see `VFS+PageCache`).
    public func pagesHandedOver(_ bytes: Int) { state.withLock { $0.pagesHandedOver += Int64(bytes) } }

    /// Prometheus text. Also carries the three JuiceFS names the seed's health-check grep uses:
    /// `juicefs_fuse_ops_io_total` (FUSE read and write calls), `juicefs_object_request_data_bytes_GET`
    /// (bytes fetched from the store) and `juicefs_blockcache_hits` (reads of file contents the
    /// block cache answered; 0 without one).
    public func render(inodes: Int, pendingUploads: Int, blockCache: BlockCache.Stats? = nil, feedUp: Bool = false) -> String {
        let s = state.withLock { $0 }
        var out = ""
        func line(_ name: String, _ labels: String = "", _ value: Double) {
            out += "\(name)\(labels.isEmpty ? "" : "{\(labels)}") \(value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value))\n"
        }
        out += "# TYPE garagetytus_fuse_ops_total counter\n"
        for (op, e) in s.ops.sorted(by: { $0.key < $1.key }) { line("garagetytus_fuse_ops_total", "op=\"\(op)\"", Double(e.count)) }
        out += "# TYPE garagetytus_fuse_op_errors_total counter\n"
        for (op, e) in s.ops.sorted(by: { $0.key < $1.key }) { line("garagetytus_fuse_op_errors_total", "op=\"\(op)\"", Double(e.errors)) }
        out += "# TYPE garagetytus_fuse_op_seconds_total counter\n"
        for (op, e) in s.ops.sorted(by: { $0.key < $1.key }) { line("garagetytus_fuse_op_seconds_total", "op=\"\(op)\"", e.seconds) }
        line("garagetytus_fuse_read_bytes_total", "", Double(s.fuseBytesRead))
        line("garagetytus_fuse_written_bytes_total", "", Double(s.fuseBytesWritten))
        out += "# TYPE garagetytus_object_requests_total counter\n"
        for (k, v) in s.requests.sorted(by: { $0.key < $1.key }) {
            let parts = k.split(separator: " ")
            line("garagetytus_object_requests_total", "method=\"\(parts[0])\",status=\"\(parts[1])\"", Double(v))
        }
        for (m, b) in s.objectBytes.sorted(by: { $0.key < $1.key }) { line("garagetytus_object_bytes_total", "method=\"\(m)\"", Double(b)) }
        line("garagetytus_object_retries_total", "", Double(s.retries))
        line("garagetytus_cache_hits_total", "", Double(s.cacheHits))
        line("garagetytus_cache_misses_total", "", Double(s.cacheMisses))
        line("garagetytus_readahead_hits_total", "", Double(s.readAheadHits))
        line("garagetytus_readahead_misses_total", "", Double(s.readAheadMisses))
        out += "# HELP garagetytus_page_cache_handed_bytes_total Bytes of files read at random put in the kernel's page cache ahead of the reads.\n"
        line("garagetytus_page_cache_handed_bytes_total", "", Double(s.pagesHandedOver))
        let bc = blockCache ?? BlockCache.Stats()
        out += "# HELP garagetytus_blockcache_hits_total Reads of file contents answered from blocks on disk.\n"
        line("garagetytus_blockcache_hits_total", "", Double(bc.hits))
        line("garagetytus_blockcache_misses_total", "", Double(bc.misses))
        line("garagetytus_blockcache_stored_total", "", Double(bc.stored))
        line("garagetytus_blockcache_evicted_total", "", Double(bc.evicted))
        line("garagetytus_blockcache_damaged_total", "", Double(bc.damaged))
        line("garagetytus_blockcache_bytes", "", Double(bc.bytes))
        line("garagetytus_blockcache_blocks", "", Double(bc.blocks))
        line("garagetytus_blockcache_capacity_bytes", "", Double(bc.capacity))
        let lookups = bc.hits + bc.misses
        line("garagetytus_blockcache_hit_ratio", "", lookups == 0 ? 0 : Double(bc.hits) / Double(lookups))
        out += "# HELP garagetytus_changefeed_up 1 while the daemon's change feed of the bucket is followed (changes seen within milliseconds).\n"
        line("garagetytus_changefeed_up", "", feedUp ? 1 : 0)
        line("garagetytus_changefeed_changes_total", "", Double(s.changesApplied))
        line("garagetytus_changefeed_resets_total", "", Double(s.feedResets))
        out += "# HELP garagetytus_credential_expiry_timestamp_seconds When the credentials expire; 0: they do not.\n"
        line("garagetytus_credential_expiry_timestamp_seconds", "", s.credentialExpiry)
        line("garagetytus_uploads_pending", "", Double(pendingUploads))
        line("garagetytus_uploads_failed_total", "", Double(s.uploadsFailed))
        line("garagetytus_inodes", "", Double(inodes))
        line("garagetytus_memory_rss_bytes", "", Double(Self.rssBytes()))
        line("garagetytus_uptime_seconds", "", Date().timeIntervalSince(startedAt))
        let io = (s.ops["read"]?.count ?? 0) + (s.ops["write"]?.count ?? 0)
        line("juicefs_fuse_ops_io_total", "", Double(io))
        line("juicefs_object_request_data_bytes_GET", "", Double(s.objectBytes["GET"] ?? 0))
        line("juicefs_blockcache_hits", "", Double(bc.hits))
        return out
    }

    static func rssBytes() -> Int64 {
        guard let t = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let l = t.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Int64(l.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb * 1024
    }
}
