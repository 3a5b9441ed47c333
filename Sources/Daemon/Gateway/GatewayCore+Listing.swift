import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import S3

extension GatewayCore {
    /// A listing that carries `metadata` (see `ListingMetadata`): the engine lists exactly as it
    /// always does (the parameter is the gateway's, not forwarded); for ListObjectsV2 with
    /// `metadata=true` each entry's user metadata are added from the filer. When the filer cannot
    /// answer, the listing goes out as the engine gave it: clients ask HEAD for entries without
    /// the element, so a failure costs speed, never correctness.
    func listWithMetadata(_ req: GatewayRequest, op: S3Operation, _ facts: inout Facts) async throws -> Response {
        let wanted = op.kind == .listObjectsV2 && req.query["metadata"] == "true"
        // The page of one directory most often asked for (a mount's, by prefix and "/") is read
        // from the filer while the engine lists it.
        let early: Task<[ListingMetadata.Exact: FilerClient.Entry], Never>? = wanted ? speculate(req, bucket: op.bucket) : nil
        defer { early?.cancel() }
        let upstream: HTTPClientResponse
        do {
            upstream = try await forwarder.send(method: "GET", path: req.path, query: req.forwardQuery(dropping: ["metadata"]),
                                                headers: req.headers, body: nil)
        } catch {
            throw Self.engineUnreachable(error)
        }
        guard wanted, upstream.status == .ok, let filer, let bucket = op.bucket else {
            return Self.response(from: upstream, head: false)
        }
        let xml = Data(buffer: try await upstream.body.collect(upTo: Self.listingLimit))
        var body = xml
        if let (listed, prefixes) = ListingMetadata.entries(xml) {
            let elements = await userMetadata(of: listed + prefixes, bucket: bucket, filer: filer, known: await early?.value ?? [:])
            if let spliced = ListingMetadata.splice(xml, Array(elements[..<listed.count]), prefixElements: Array(elements[listed.count...])) {
                body = spliced
            }
        }
        var fields = Self.fields(upstream.headers)
        fields[.contentLength] = "\(body.count)"
        return Response(status: .ok, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(data: body)))
    }

    /// A listing page is at most this big (1000 keys of 1024 bytes, escaped, and their fields).
    static let listingLimit = 16 << 20

    /// Each listed entry's `<UserMetadata>` content, in listing order (nil: not known). The
    /// filer is asked once per directory the entries are in (a few directories at a time),
    /// starting at the first listed name; it reads at most a few entries more than were listed.
    /// `known`: entries already read, by key. Keys, directories and names match by their bytes.
    func userMetadata(of listed: [ListingMetadata.Listed], bucket: String, filer: FilerClient,
                      known: [ListingMetadata.Exact: FilerClient.Entry] = [:]) async -> [String?] {
        var out = [String?](repeating: nil, count: listed.count)
        var byDir: [ListingMetadata.Exact: (dir: String, names: [(index: Int, name: String)])] = [:]
        for (i, l) in listed.enumerated() {
            if let entry = known[ListingMetadata.Exact(l.directory ? String(l.key.dropLast()) : l.key)] {
                out[i] = ListingMetadata.element(for: entry, listed: l)
            } else if let (dir, name) = ListingMetadata.place(l.key) {
                byDir[ListingMetadata.Exact(dir), default: (dir, [])].names.append((i, name))
            }
        }
        // A big directory is asked in slices at once: the filer serves them side by side, and
        // their pages are read on every core.
        var work: [(dir: String, names: ArraySlice<(index: Int, name: String)>)] = []
        for (dir, names) in byDir.values {
            for start in stride(from: 0, to: names.count, by: Self.filerSlice) {
                work.append((dir, names[start..<min(start + Self.filerSlice, names.count)]))
            }
        }
        await withTaskGroup(of: [(Int, String?)].self) { group in
            var pending = work.makeIterator()
            func next() -> Bool {
                guard let (dir, names) = pending.next() else { return false }
                group.addTask {
                    let entries = (try? await Self.entries(filer: filer, bucket: bucket, dir: dir, names: names.map(\.name))) ?? [:]
                    return names.map { n in (n.index, entries[ListingMetadata.Exact(n.name)].flatMap { ListingMetadata.element(for: $0, listed: listed[n.index]) }) }
                }
                return true
            }
            for _ in 0..<Self.filerParallelism where next() {}
            for await found in group {
                for (i, e) in found { out[i] = e }
                _ = next()
            }
        }
        return out
    }

    static let filerParallelism = 8
    static let filerSlice = 250

    /// The filer's entries for `names` (listed order, which is the filer's byte order) of one directory.
    static func entries(filer: FilerClient, bucket: String, dir: String, names: [String]) async throws -> [ListingMetadata.Exact: FilerClient.Entry] {
        guard let first = names.first, let last = names.last else { return [:] }
        let wanted = Set(names.map(ListingMetadata.Exact.init))
        let lastBytes = Array(last.utf8)
        var after = ListingMetadata.before(first)
        var found: [ListingMetadata.Exact: FilerClient.Entry] = [:]
        var budget = names.count * 2 + 64  // entries read beyond this are not worth it: HEADs do the rest
        // The listed names and the few subdirectories between them, most often in one page.
        var limit = min(1024, names.count + 16)
        while budget > 0 {
            limit = min(limit, budget)
            let page = try await filer.list(bucket: bucket, dir: dir, after: after, limit: limit)
            let entries = page.Entries ?? []
            for e in entries {
                let name = ListingMetadata.Exact(e.name)
                if wanted.contains(name) { found[name] = e }
            }
            guard let end = entries.last, entries.count == limit, Array(end.name.utf8).lexicographicallyPrecedes(lastBytes) else { break }
            after = Array(end.name.utf8)
            budget -= entries.count
            limit = 1024
        }
        return found
    }

    /// For a listing of one directory's children (prefix "" or ending in "/", delimiter "/"),
    /// the filer's entries from where the page starts (`start-after`, or the continuation token,
    /// which SeaweedFS makes the last key listed), keyed by key; nil for other listings. A guess:
    /// what it misses is asked for once the engine's page is known.
    func speculate(_ req: GatewayRequest, bucket: String?) -> Task<[ListingMetadata.Exact: FilerClient.Entry], Never>? {
        guard let filer, let bucket, req.query["delimiter"] == "/" else { return nil }
        let prefix = req.query["prefix"] ?? ""
        guard prefix.isEmpty || prefix.hasSuffix("/"), let (dir, _) = prefix.isEmpty ? ("", "") : ListingMetadata.place(prefix + "x") else { return nil }
        let from = req.query["continuation-token"] ?? req.query["start-after"] ?? ""
        let after: [UInt8]
        if from.isEmpty || (from.utf8.starts(with: prefix.utf8) && !from.utf8.dropFirst(prefix.utf8.count).contains(UInt8(ascii: "/"))) {
            after = Array(from.utf8.dropFirst(prefix.utf8.count))
        } else {
            return nil
        }
        let keys = min(1000, max(1, Int(req.query["max-keys"] ?? "") ?? 1000))
        return Task {
            guard let page = try? await filer.list(bucket: bucket, dir: dir, after: after, limit: min(1024, keys + 16)) else { return [:] }
            var out: [ListingMetadata.Exact: FilerClient.Entry] = [:]
            for e in page.Entries ?? [] { out[ListingMetadata.Exact(prefix + e.name)] = e }
            return out
        }
    }
}
