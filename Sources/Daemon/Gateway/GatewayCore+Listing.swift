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
        let upstream: HTTPClientResponse
        do {
            upstream = try await forwarder.send(method: "GET", path: req.path, query: req.forwardQuery(dropping: ["metadata"]),
                                                headers: req.headers, body: nil)
        } catch {
            throw Self.engineUnreachable(error)
        }
        guard op.kind == .listObjectsV2, req.query["metadata"] == "true", upstream.status == .ok, let filer, let bucket = op.bucket else {
            return Self.response(from: upstream, head: false)
        }
        let xml = Data(buffer: try await upstream.body.collect(upTo: Self.listingLimit))
        var body = xml
        if let listed = ListingMetadata.contents(xml) {
            let elements = await userMetadata(of: listed, bucket: bucket, filer: filer)
            if let spliced = ListingMetadata.splice(xml, elements) { body = spliced }
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
    func userMetadata(of listed: [ListingMetadata.Listed], bucket: String, filer: FilerClient) async -> [String?] {
        var byDir: [String: [(index: Int, name: String)]] = [:]
        for (i, l) in listed.enumerated() {
            if let (dir, name) = ListingMetadata.place(l.key) { byDir[dir, default: []].append((i, name)) }
        }
        var out = [String?](repeating: nil, count: listed.count)
        await withTaskGroup(of: [(Int, String?)].self) { group in
            var pending = byDir.makeIterator()
            func next() -> Bool {
                guard let (dir, names) = pending.next() else { return false }
                group.addTask {
                    let entries = (try? await Self.entries(filer: filer, bucket: bucket, dir: dir, names: names.map(\.name))) ?? [:]
                    return names.map { n in (n.index, entries[n.name].flatMap { ListingMetadata.element(for: $0, listed: listed[n.index]) }) }
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

    /// The filer's entries for `names` (listed order, which is the filer's byte order) of one directory.
    static func entries(filer: FilerClient, bucket: String, dir: String, names: [String]) async throws -> [String: FilerClient.Entry] {
        guard let first = names.first, let last = names.last else { return [:] }
        let wanted = Set(names)
        let lastBytes = Array(last.utf8)
        var after = ListingMetadata.before(first)
        var found: [String: FilerClient.Entry] = [:]
        var budget = names.count * 2 + 64  // entries read beyond this are not worth it: HEADs do the rest
        while budget > 0 {
            let limit = min(1024, budget)
            let page = try await filer.list(bucket: bucket, dir: dir, after: after, limit: limit)
            let entries = page.Entries ?? []
            for e in entries where wanted.contains(e.name) { found[e.name] = e }
            guard let end = entries.last, entries.count == limit, Array(end.name.utf8).lexicographicallyPrecedes(lastBytes) else { break }
            after = Array(end.name.utf8)
            budget -= entries.count
        }
        return found
    }
}
