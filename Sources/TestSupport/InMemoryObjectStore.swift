import Crypto
import Foundation
import Mount
import Synchronization

/// An `ObjectStore` in memory with S3's semantics (ETags, ranges, delimiter listings), for fast
/// tests of the filesystem core. Tests change it "from outside" by calling it directly.
public final class InMemoryObjectStore: ObjectStore {
    struct Entry {
        var data: Data
        var meta: ObjectMeta
    }

    private let objects = Mutex<[String: Entry]>([:])

    /// Whether `rename` moves objects (as SeaweedFS 4.42+ does) or says the store has no renames.
    public let offersRename: Bool

    /// Whether listings carry each entry's user metadata (as the daemon's `metadata=true` does).
    public let listsMetadata: Bool

    public init(offersRename: Bool = false, listsMetadata: Bool = false) {
        self.offersRename = offersRename
        self.listsMetadata = listsMetadata
    }

    public var keys: [String] { objects.withLock { $0.keys.sorted() } }

    public func head(_ key: String) throws -> ObjectMeta {
        guard let e = objects.withLock({ $0[key] }) else { throw VFSError(.notFound, "HeadObject \(key): not found") }
        var meta = e.meta
        meta.hasMetadata = true
        return meta
    }

    public func read(_ key: String, range: Range<Int64>, etag: String?) throws -> Data {
        guard let e = objects.withLock({ $0[key] }) else { throw VFSError(.notFound, "GetObject \(key): not found") }
        if let etag, etag != e.meta.etag { throw VFSError(.stale, "GetObject \(key): changed since it was opened") }
        let lower = Int(min(range.lowerBound, Int64(e.data.count)))
        let upper = Int(min(range.upperBound, Int64(e.data.count)))
        return e.data.subdata(in: lower..<max(lower, upper))
    }

    @discardableResult
    public func put(_ key: String, data: Data, metadata: [String: String]) throws -> ObjectMeta {
        let etag = "\"" + Insecure.MD5.hash(data: data).map { String(format: "%02x", $0) }.joined() + "\""
        let meta = ObjectMeta(key: key, size: Int64(data.count), etag: etag, lastModified: Date(), metadata: metadata)
        objects.withLock { $0[key] = Entry(data: data, meta: meta) }
        return meta
    }

    /// Keeps other keys than the attributes' when `metadata` replaces them, as S3ObjectStore does
    /// (it has no Content-Type to give).
    public func copy(from source: String, to destination: String, metadata: [String: String]?, retype: Bool) throws {
        try objects.withLock { all in
            guard var e = all[source] else { throw VFSError(.notFound, "CopyObject \(source): not found") }
            e.meta.key = destination
            e.meta.lastModified = Date()
            if let metadata {
                e.meta.metadata = e.meta.metadata.filter { !PosixAttributes.ownKeys.contains($0.key) }.merging(metadata) { _, new in new }
            }
            all[destination] = e
        }
    }

    public func delete(_ key: String) throws {
        _ = objects.withLock { $0.removeValue(forKey: key) }
    }

    public func rename(from source: String, to destination: String) throws -> Bool {
        guard offersRename else { return false }
        try objects.withLock { all in
            guard var e = all.removeValue(forKey: source) else { throw VFSError(.notFound, "RenameObject \(source): not found") }
            e.meta.key = destination
            all[destination] = e
        }
        return true
    }

    private let uploads = Mutex<[String: (key: String, metadata: [String: String], parts: [Int: Data])]>([:])

    /// Multipart uploads started and neither completed nor aborted.
    public var openUploads: Int { uploads.withLock { $0.count } }

    public func startUpload(_ key: String, metadata: [String: String]) throws -> String {
        let id = UUID().uuidString
        uploads.withLock { $0[id] = (key, metadata, [:]) }
        return id
    }

    public func uploadPart(_ key: String, uploadId: String, number: Int, data: Data) throws -> String {
        try uploads.withLock { u in
            guard u[uploadId]?.key == key else { throw VFSError(.notFound, "UploadPart: no upload \(uploadId)") }
            u[uploadId]!.parts[number] = data
        }
        return "\"part-\(number)-\(data.count)\""
    }

    @discardableResult
    public func completeUpload(_ key: String, uploadId: String, parts: [(Int, String)]) throws -> ObjectMeta {
        guard let u = uploads.withLock({ $0.removeValue(forKey: uploadId) }), u.key == key else {
            throw VFSError(.notFound, "CompleteMultipartUpload: no upload \(uploadId)")
        }
        var body = Data()
        for (i, (number, _)) in parts.enumerated() {
            guard let d = u.parts[number] else { throw VFSError(.invalid, "CompleteMultipartUpload: part \(number) missing") }
            if i < parts.count - 1 && d.count < 5 << 20 { throw VFSError(.invalid, "CompleteMultipartUpload: part \(number) below 5 MiB") }
            body.append(d)
        }
        return try put(key, data: body, metadata: u.metadata)
    }

    public func abortUpload(_ key: String, uploadId: String) {
        _ = uploads.withLock { $0.removeValue(forKey: uploadId) }
    }

    public func list(prefix: String) throws -> StoreListing {
        let all = objects.withLock { $0 }
        var listing = StoreListing()
        var prefixes = Set<String>()
        for (key, e) in all where key.hasPrefix(prefix) {
            let rest = key.dropFirst(prefix.count)
            if let slash = rest.firstIndex(of: "/") {
                prefixes.insert(prefix + rest[...slash])
            } else {
                var m = e.meta
                m.hasMetadata = listsMetadata
                if !listsMetadata { m.metadata = [:] }  // plain listings carry no user metadata, as in S3
                listing.objects.append(m)
            }
        }
        listing.objects.sort { $0.key < $1.key }
        listing.prefixes = prefixes.sorted()
        return listing
    }
}

/// Wraps a store and fails chosen calls: for testing that errors reach the caller as they should.
public final class FaultInjectingStore: ObjectStore {
    public enum Op: Sendable, Hashable { case head, read, put, copy, rename, delete, list }

    private let base: any ObjectStore
    private let plan = Mutex<[Op: [VFSError.Code]]>([:])

    public init(_ base: any ObjectStore) { self.base = base }

    /// The next `times` calls of `op` fail with `code`.
    public func failNext(_ op: Op, times: Int = 1, with code: VFSError.Code = .io) {
        plan.withLock { $0[op, default: []] += Array(repeating: code, count: times) }
    }

    /// How many calls of `op` were made (failed ones included).
    public func calls(_ op: Op) -> Int { counts.withLock { $0[op] ?? 0 } }
    private let counts = Mutex<[Op: Int]>([:])
    /// The part numbers sent with `uploadPart`, in order (failed ones included).
    public var partsSent: [Int] { parts.withLock { $0 } }
    private let parts = Mutex<[Int]>([])
    /// The byte ranges asked of `read`, in order.
    public var reads: [Range<Int64>] { readRanges.withLock { $0 } }
    private let readRanges = Mutex<[Range<Int64>]>([])

    /// A call held at the store's door until released: the request is on its way (its bytes
    /// are taken) but has not landed.
    public final class Hold: Sendable {
        let arrived = DispatchSemaphore(value: 0)
        let go = DispatchSemaphore(value: 0)
        /// Waits (bounded) until the held call has arrived; false on timeout.
        public func waitUntilHeld(timeout: Double) -> Bool { arrived.wait(timeout: .now() + timeout) == .success }
        public func release() { go.signal() }
    }
    private let holds = Mutex<[Op: [Hold]]>([:])

    /// The next call of `op` waits for `release()` on what this returns.
    public func holdNext(_ op: Op) -> Hold {
        let h = Hold()
        holds.withLock { $0[op, default: []].append(h) }
        return h
    }

    private func inject(_ op: Op, _ key: String) throws {
        counts.withLock { $0[op, default: 0] += 1 }
        let hold = holds.withLock { h -> Hold? in h[op]?.isEmpty == false ? h[op]!.removeFirst() : nil }
        if let hold {
            hold.arrived.signal()
            hold.go.wait()
        }
        let code = plan.withLock { p -> VFSError.Code? in
            guard var queue = p[op], !queue.isEmpty else { return nil }
            let c = queue.removeFirst()
            p[op] = queue
            return c
        }
        if let code { throw VFSError(code, "injected failure of \(op) \(key)") }
    }

    public func head(_ key: String) throws -> ObjectMeta { try inject(.head, key); return try base.head(key) }
    public func read(_ key: String, range: Range<Int64>, etag: String?) throws -> Data {
        readRanges.withLock { $0.append(range) }
        try inject(.read, key); return try base.read(key, range: range, etag: etag)
    }
    @discardableResult
    public func put(_ key: String, data: Data, metadata: [String: String]) throws -> ObjectMeta {
        try inject(.put, key); return try base.put(key, data: data, metadata: metadata)
    }
    public func copy(from source: String, to destination: String, metadata: [String: String]?, retype: Bool) throws {
        try inject(.copy, source); try base.copy(from: source, to: destination, metadata: metadata, retype: retype)
    }
    public func delete(_ key: String) throws { try inject(.delete, key); try base.delete(key) }
    public func rename(from source: String, to destination: String) throws -> Bool {
        try inject(.rename, source); return try base.rename(from: source, to: destination)
    }
    public func list(prefix: String) throws -> StoreListing { try inject(.list, prefix); return try base.list(prefix: prefix) }
    public func startUpload(_ key: String, metadata: [String: String]) throws -> String {
        try inject(.put, key); return try base.startUpload(key, metadata: metadata)
    }
    public func uploadPart(_ key: String, uploadId: String, number: Int, data: Data) throws -> String {
        parts.withLock { $0.append(number) }
        try inject(.put, key); return try base.uploadPart(key, uploadId: uploadId, number: number, data: data)
    }
    @discardableResult
    public func completeUpload(_ key: String, uploadId: String, parts: [(Int, String)]) throws -> ObjectMeta {
        try inject(.put, key); return try base.completeUpload(key, uploadId: uploadId, parts: parts)
    }
    public func abortUpload(_ key: String, uploadId: String) { base.abortUpload(key, uploadId: uploadId) }
}
