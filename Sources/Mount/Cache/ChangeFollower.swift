import Foundation
import S3
import Synchronization

/// Follows the daemon's change feed of the mounted bucket (`GET /<bucket>?changes`, one JSON
/// line per change, a `tick` every two seconds) into the VFS: each change drops or replaces what
/// the mount caches of it, and while lines keep coming the mount trusts what it holds for longer
/// (`VFSOptions.followedTTL`). A broken stream is resumed from the last position after a pause;
/// until then nothing is trusted past the metadata TTL. An endpoint without the feed (plain S3)
/// is asked once and then left alone.
public final class ChangeFollower: Sendable {
    let client: S3Client
    let bucket: String
    let vfs: VFS
    let log: @Sendable (String) -> Void
    /// A stream with no line (not even a tick) for this long is taken for dead.
    static let stallSeconds = 6
    private let stopped = Atomic<Bool>(false)
    private let position = Mutex<UInt64?>(nil)
    /// What the follower knows of the endpoint: nil until the first answer.
    public enum Status: String, Sendable { case following, reconnecting, unsupported, stopped }
    private let current = Mutex<Status?>(nil)
    /// Why the daemon ended the last stream (its `end` line).
    private let endedBy = Mutex<String?>(nil)

    public init(client: S3Client, bucket: String, vfs: VFS, log: @escaping @Sendable (String) -> Void) {
        self.client = client
        self.bucket = bucket
        self.vfs = vfs
        self.log = log
    }

    public var status: Status? { current.withLock { $0 } }

    public func start() {
        let t = Thread { self.loop() }
        t.name = "gt-changes"
        t.start()
    }

    /// Ends the stream within a tick.
    public func stop() {
        stopped.store(true, ordering: .relaxed)
        current.withLock { $0 = .stopped }
    }

    private func loop() {
        var failures = 0
        while !stopped.load(ordering: .relaxed) {
            let lines = LineSplitter()
            var query = [("changes", "")]
            if let p = position.withLock({ $0 }) { query.append(("since", String(p))) }
            var outcome = "the stream ended"
            endedBy.withLock { $0 = nil }
            do {
                try client.stream(bucket: bucket, query: query, stallSeconds: Self.stallSeconds, operation: "ListChanges \(bucket)") { bytes in
                    guard !self.stopped.load(ordering: .relaxed) else { return false }
                    for line in lines.feed(bytes) {
                        guard self.handle(line) else { return false }
                    }
                    return !lines.notAFeed
                }
            } catch let e as S3Error {
                outcome = e.description
                if e.status == 501 || e.status == 405 || e.status == 404 || (e.status == 400 && e.code != "InvalidArgument") {
                    current.withLock { $0 = .unsupported }
                }
            } catch {
                outcome = "\(error)"
            }
            if lines.notAFeed { current.withLock { $0 = .unsupported } }
            if let why = endedBy.withLock({ $0 }) { outcome = "the daemon ended it: \(why)" }
            vfs.feedLost()
            if current.withLock({ $0 }) == .unsupported {
                log("the endpoint offers no change feed (\(outcome)); attributes and listings are trusted for the metadata TTL")
                return
            }
            guard !stopped.load(ordering: .relaxed) else { return }
            if lines.count > 0 { failures = 0 }
            failures += 1
            if failures == 1 || failures % 20 == 0 { log("change feed interrupted (\(outcome)); reconnecting") }
            current.withLock { $0 = .reconnecting }
            usleep(useconds_t(min(200_000 << min(failures - 1, 5), 5_000_000)))
        }
    }

    /// One line of the feed; false ends the stream.
    private func handle(_ line: Data) -> Bool {
        guard let o = (try? JSONSerialization.jsonObject(with: line)) as? [String: Any], let op = o["op"] as? String else { return true }
        let seq = (o["seq"] as? NSNumber)?.uint64Value
        switch op {
        case "end":
            endedBy.withLock { $0 = o["why"] as? String ?? "no reason given" }
            return false
        case "reset":
            vfs.revalidateAll()
        case "put", "delete":
            guard let key = o["key"] as? String else { break }
            vfs.applyChange(ObjectChange(op: op == "put" ? .put : .delete, key: key, etag: o["etag"] as? String,
                                         size: (o["size"] as? NSNumber)?.int64Value, mtime: (o["mtime"] as? NSNumber)?.doubleValue,
                                         metadata: o["meta"] as? [String: String]))
        default:
            break  // tick, or a line of a later version
        }
        if let seq { position.withLock { $0 = seq } }
        current.withLock { if $0 != .stopped { $0 = .following } }
        vfs.feedAlive(for: Double(Self.stallSeconds))
        return true
    }
}

/// Splits a byte stream into lines; tells a body that is no feed (an S3 listing) from one.
final class LineSplitter: @unchecked Sendable {
    // SAFETY: used by one transfer's write callback at a time (curl calls it on one thread).
    private var pending = Data()
    private(set) var count = 0
    private(set) var notAFeed = false

    func feed(_ bytes: UnsafeRawBufferPointer) -> [Data] {
        if count == 0 && pending.isEmpty, let first = bytes.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D }), first != UInt8(ascii: "{") {
            notAFeed = true
            return []
        }
        guard !notAFeed else { return [] }
        pending.append(contentsOf: bytes)
        var out: [Data] = []
        while let nl = pending.firstIndex(of: 0x0A) {
            let line = pending[pending.startIndex..<nl]
            if !line.isEmpty { out.append(Data(line)) }
            pending.removeSubrange(pending.startIndex...nl)
        }
        count += out.count
        return out
    }
}
