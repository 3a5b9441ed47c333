import Crypto
import Foundation

extension S3Client {
    public func createBucket(_ bucket: String) throws {
        _ = try send("PUT", bucket: bucket, operation: "CreateBucket \(bucket)")
    }

    public func deleteBucket(_ bucket: String) throws {
        _ = try send("DELETE", bucket: bucket, operation: "DeleteBucket \(bucket)")
    }

    /// The object's size, ETag, date and user metadata; `S3Error(.notFound)` when there is none.
    public func head(bucket: String, key: String) throws -> ObjectInfo {
        let r = try send("HEAD", bucket: bucket, key: key, operation: "HeadObject \(bucket)/\(key)")
        var meta: [String: String] = [:]
        var kept: [String: String] = [:]
        for (name, value) in r.headers {
            let lower = name.lowercased()
            if lower.hasPrefix("x-amz-meta-") { meta[String(lower.dropFirst(11))] = value }
            if Self.representationHeaders.contains(lower) { kept[lower] = value }
        }
        var info = ObjectInfo(key: key, size: Int64(r.header("Content-Length") ?? "") ?? 0, etag: r.header("ETag"),
                              lastModified: r.header("Last-Modified").flatMap(Self.parseHTTPDate), metadata: meta,
                              contentType: r.header("Content-Type"), hasMetadata: true)
        info.headers = kept
        return info
    }

    /// What an object carries besides its bytes, type and user metadata, and a copy that replaces
    /// the metadata must send again to keep.
    public static let representationHeaders: Set<String> = ["cache-control", "content-disposition", "content-encoding", "content-language", "expires"]

    /// The object's bytes, or `range` of them (inclusive byte offsets).
    public func get(bucket: String, key: String, range: ClosedRange<Int64>? = nil, ifMatch etag: String? = nil) throws -> Data {
        try send("GET", bucket: bucket, key: key, headers: Self.getHeaders(range, etag), operation: "GetObject \(bucket)/\(key)").body
    }

    /// `get` into caller-owned memory; returns how many bytes came. A body longer than the sink
    /// fails the request.
    public func get(bucket: String, key: String, range: ClosedRange<Int64>? = nil, ifMatch etag: String? = nil, into sink: ResponseSink) throws -> Int {
        _ = try send("GET", bucket: bucket, key: key, headers: Self.getHeaders(range, etag), operation: "GetObject \(bucket)/\(key)", sink: sink)
        return sink.count
    }

    private static func getHeaders(_ range: ClosedRange<Int64>?, _ etag: String?) -> [(String, String)] {
        var headers: [(String, String)] = []
        if let range { headers.append(("Range", "bytes=\(range.lowerBound)-\(range.upperBound)")) }
        if let etag { headers.append(("If-Match", etag)) }
        return headers
    }

    /// Stores `body`; returns the new ETag.
    @discardableResult
    public func put(bucket: String, key: String, body: Data, metadata: [String: String] = [:], contentType: String? = nil,
                    representation: [String: String] = [:]) throws -> String? {
        let headers = Self.objectHeaders(metadata: metadata, contentType: contentType, representation: representation)
        return try send("PUT", bucket: bucket, key: key, headers: headers, body: body, operation: "PutObject \(bucket)/\(key)").header("ETag")
    }

    /// What an object is stored with: its user metadata (`x-amz-meta-*`), Content-Type and
    /// `representation` headers (see `representationHeaders`), in a fixed order.
    static func objectHeaders(metadata: [String: String], contentType: String?, representation: [String: String] = [:]) -> [(String, String)] {
        var headers = metadata.sorted { $0.key < $1.key }.map { ("x-amz-meta-\($0.key)", $0.value) }
        if let contentType { headers.append(("Content-Type", contentType)) }
        return headers + representation.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// Server-side copy: with `metadata` (REPLACE), the copy carries exactly that metadata,
    /// `contentType` and `representation` headers, nothing else of the source's; without, all of
    /// the source's.
    public func copy(bucket: String, from source: String, to key: String, metadata: [String: String]? = nil, contentType: String? = nil,
                     representation: [String: String] = [:]) throws {
        var headers = [("x-amz-copy-source", Self.sourceHeader(bucket: bucket, key: source))]
        if let metadata {
            headers.append(("x-amz-metadata-directive", "REPLACE"))
            headers += Self.objectHeaders(metadata: metadata, contentType: contentType, representation: representation)
        }
        let op = "CopyObject \(bucket)/\(source) -> \(key)"
        let r = try send("PUT", bucket: bucket, key: key, headers: headers, operation: op)
        // S3 can answer 200 with an error document for a copy that failed part-way.
        if let xml = XMLNode.parse(r.body), xml.name == "Error" {
            throw S3Error(kind: .server, status: 200, code: xml.string("Code"), message: xml.string("Message") ?? "copy failed", operation: op)
        }
    }

    /// A source object as `x-amz-copy-source` and `x-amz-rename-source` name it: `/bucket/key`, encoded once.
    static func sourceHeader(bucket: String, key: String) -> String {
        "/\(SigV4.uriEncode(bucket))/\(SigV4.canonicalURI(key))"
    }

    /// `PUT <key>?renameObject` with `x-amz-rename-source` (SeaweedFS 4.42+, S3 Express One Zone):
    /// the object moves in one request, metadata and all. False when the endpoint does not offer
    /// renames (400, 405 or 501: nothing was done); a missing source is `.notFound`. Not retried
    /// after a transport error: a first attempt that went through would make a second one 404.
    public func rename(bucket: String, from source: String, to key: String) throws -> Bool {
        let r = try send("PUT", bucket: bucket, key: key, query: [("renameObject", "")],
                         headers: [("x-amz-rename-source", Self.sourceHeader(bucket: bucket, key: source))],
                         operation: "RenameObject \(bucket)/\(source) -> \(key)", idempotent: false, expect: [400, 405, 501])
        return (200..<300).contains(r.status)
    }

    public func delete(bucket: String, key: String) throws {
        _ = try send("DELETE", bucket: bucket, key: key, operation: "DeleteObject \(bucket)/\(key)")
    }

    /// Deletes up to 1000 keys in one request; returns the keys that could not be deleted, with why.
    public func deleteObjects(bucket: String, keys: [String]) throws -> [String: String] {
        precondition(keys.count <= 1000, "DeleteObjects takes at most 1000 keys")
        guard !keys.isEmpty else { return [:] }
        let xml = "<Delete><Quiet>true</Quiet>" + keys.map { "<Object><Key>\(xmlEscape($0))</Key></Object>" }.joined() + "</Delete>"
        let body = Data(xml.utf8)
        let md5 = Data(Insecure.MD5.hash(data: body)).base64EncodedString()
        let op = "DeleteObjects \(bucket) (\(keys.count) keys)"
        let r = try send("POST", bucket: bucket, query: [("delete", "")], headers: [("Content-MD5", md5), ("Content-Type", "application/xml")],
                         body: body, operation: op)
        var failed: [String: String] = [:]
        for e in try Self.parseXML(r, op).all("Error") {
            failed[e.string("Key") ?? "?"] = [e.string("Code"), e.string("Message")].compactMap { $0 }.joined(separator: ": ")
        }
        return failed
    }

    /// One page of ListObjectsV2. With `metadata`, asks for each entry's user metadata as MinIO
    /// and the daemon give them (`metadata=true`, a `<UserMetadata>` per entry); entries that come
    /// without it have `hasMetadata` false (other endpoints ignore the parameter).
    /// Keys are asked URL-encoded (`encoding-type=url`: XML cannot carry most control characters)
    /// and returned decoded. `startAfter` instead of a token: see `ListPage.next`.
    public func list(bucket: String, prefix: String = "", delimiter: String? = nil, continuationToken: String? = nil,
                     startAfter: String? = nil, maxKeys: Int = 1000, metadata: Bool = false) throws -> ListPage {
        var q = [("list-type", "2"), ("max-keys", "\(maxKeys)"), ("encoding-type", "url")]
        if !prefix.isEmpty { q.append(("prefix", prefix)) }
        if let delimiter { q.append(("delimiter", delimiter)) }
        if let continuationToken { q.append(("continuation-token", continuationToken)) }
        if let startAfter { q.append(("start-after", startAfter)) }
        if metadata { q.append(("metadata", "true")) }
        let op = "ListObjectsV2 \(bucket)/\(prefix)"
        let r = try send("GET", bucket: bucket, query: q, operation: op)
        guard let page = ListingXML.page(r.body)?.decodingKeys() else {
            throw S3Error(kind: .invalidResponse, status: r.status, code: nil, message: "the answer is not a listing", operation: op)
        }
        return page
    }

    /// Every page of a listing.
    public func listAll(bucket: String, prefix: String = "", delimiter: String? = nil, metadata: Bool = false) throws -> ListPage {
        var all = ListPage()
        var next: ListPage.Next? = .start
        while let from = next {
            let page = try list(bucket: bucket, prefix: prefix, delimiter: delimiter, continuationToken: from.token, startAfter: from.startAfter,
                                metadata: metadata)
            all.objects += page.objects
            all.commonPrefixes += page.commonPrefixes
            all.prefixMetadata.merge(page.prefixMetadata) { _, new in new }
            next = page.next
        }
        return all
    }

    static func parseISODate(_ s: String) -> Date? { UTCTime.parseISO8601(s) }

    static func parseHTTPDate(_ s: String) -> Date? { UTCTime.parseHTTPDate(s) }
}
