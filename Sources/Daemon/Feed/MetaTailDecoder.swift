import Foundation
import S3

/// Reads what `weed filer.meta.tail -pathPrefix=/buckets/` prints — one indented JSON object per
/// filer event: `directory`, `eventNotification.{oldEntry,newEntry,newParentPath}`, `tsNs` — and
/// turns each into the object changes it means: a create or an update is a put of the new entry,
/// a delete a delete of the old one, a rename both. Internal entries (`/buckets/.system`, a
/// bucket's `.uploads/` parts, buckets themselves) are left out.
struct MetaTailDecoder {
    /// Bytes of an object not yet complete.
    private var pending: [UInt8] = []
    private var depth = 0
    private var inString = false
    private var escaped = false
    /// Largest object kept whole (an entry with a huge chunk list is skipped).
    static let maxObject = 8 << 20

    /// The complete JSON objects in what came so far, in order.
    mutating func feed(_ bytes: some Sequence<UInt8>) -> [Data] {
        var out: [Data] = []
        for b in bytes {
            if depth == 0 {
                guard b == UInt8(ascii: "{") else { continue }  // between objects: whitespace (or noise)
                pending.removeAll(keepingCapacity: true)
            }
            if pending.count < Self.maxObject { pending.append(b) }
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch b {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"): depth += 1
            case UInt8(ascii: "}"):
                depth -= 1
                if depth == 0, pending.count < Self.maxObject { out.append(Data(pending)) }
            default: break
            }
        }
        return out
    }

    /// The object changes one event means (none for internal entries or what cannot be read).
    static func changes(_ object: Data) -> [ChangeEvent] {
        guard let o = (try? JSONSerialization.jsonObject(with: object)) as? [String: Any],
              let n = o["eventNotification"] as? [String: Any], let dir = o["directory"] as? String else { return [] }
        let seq = (o["tsNs"] as? String).flatMap { UInt64($0) } ?? (o["tsNs"] as? NSNumber)?.uint64Value ?? 0
        let old = n["oldEntry"] as? [String: Any]
        let new = n["newEntry"] as? [String: Any]
        let newDir = (n["newParentPath"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? dir
        let oldPlace = old.flatMap { place(dir, $0) }
        let newPlace = new.flatMap { place(newDir, $0) }
        var out: [ChangeEvent] = []
        if let oldPlace, oldPlace != newPlace {
            out.append(ChangeEvent(seq: seq, bucket: oldPlace.bucket, key: oldPlace.key, op: .delete))
        }
        if let new, let newPlace {
            let attributes = new["attributes"] as? [String: Any]
            let directory = new["isDirectory"] as? Bool ?? false
            let size = directory ? nil : (attributes?["fileSize"] as? String).flatMap { Int64($0) } ?? (attributes?["fileSize"] as? NSNumber)?.int64Value
            let mtime = (attributes?["mtime"] as? String).flatMap { Int64($0) } ?? (attributes?["mtime"] as? NSNumber)?.int64Value
            out.append(ChangeEvent(seq: seq, bucket: newPlace.bucket, key: newPlace.key, op: .put,
                                   etag: directory ? nil : etag(new, attributes), size: size, mtime: directory ? nil : mtime,
                                   metadata: directory ? nil : userMetadata(new)))
        }
        return out
    }

    struct Place: Equatable {
        var bucket: String
        var key: String
    }

    /// Bucket and key of entry `e` in filer directory `dir`; nil outside buckets' objects.
    static func place(_ dir: String, _ e: [String: Any]) -> Place? {
        guard let name = e["name"] as? String, !name.isEmpty, dir.hasPrefix("/buckets/") else { return nil }
        let rest = dir.dropFirst("/buckets/".count)
        let bucket = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        guard !bucket.isEmpty, !bucket.hasPrefix(".") else { return nil }
        let within = rest.dropFirst(bucket.count).drop { $0 == "/" }
        let key = (within.isEmpty ? "" : within + "/") + name + ((e["isDirectory"] as? Bool ?? false) ? "/" : "")
        if key.hasPrefix(".uploads/") || key == ".uploads/" { return nil }  // multipart parts, not objects yet
        return Place(bucket: bucket, key: String(key))
    }

    /// The entry's `X-Amz-Meta-*` values (any case; base64 in the JSON), by lowercased name
    /// without the prefix; a value that is not UTF-8 is left out.
    static func userMetadata(_ e: [String: Any]) -> [String: String] {
        var out: [String: String] = [:]
        for (name, value) in (e["extended"] as? [String: Any]) ?? [:] where name != "Seaweed-X-Amz-ETag" && FilerClient.Entry.kept(name) {
            guard let raw = (value as? String).flatMap({ Data(base64Encoded: $0) }), let v = String(validating: raw, as: UTF8.self) else { continue }
            out[String(name.dropFirst(11)).lowercased()] = v
        }
        return out
    }

    /// The ETag S3 gives the entry, decided as for listings (`ListingMetadata.etag(of:)`).
    static func etag(_ e: [String: Any], _ attributes: [String: Any]?) -> String? {
        let stored = ((e["extended"] as? [String: Any])?["Seaweed-X-Amz-ETag"] as? String).flatMap { Data(base64Encoded: $0) }
        let md5 = (attributes?["md5"] as? String).flatMap { Data(base64Encoded: $0) }
        return ListingMetadata.etag(of: FilerClient.Entry(fullPath: "", md5: md5, extended: stored.map { ["Seaweed-X-Amz-ETag": $0] } ?? [:]))
    }
}
