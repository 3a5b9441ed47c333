import Foundation

/// A ListObjectsV2 answer read straight into a `ListPage`, without building the document's
/// tree: a listing with metadata is about a dozen elements per key, and the tree's objects and
/// strings were most of a mount's CPU for `ls -l`. Reads what `XMLNode` would give for
/// the same document: `<Contents>` and `<CommonPrefixes>` children of the root, each entry's
/// `Key`, `ETag`, `Size`, `LastModified` and `<UserMetadata>` (`X-Amz-Meta-*`, names lowercased),
/// and the root's `IsTruncated`, `NextContinuationToken` and `EncodingType` (keys are returned
/// as they are written; decoding them is the caller's).
public enum ListingXML {
    /// The page, or nil when the document is not well-formed or its root is not `ListBucketResult`.
    public static func page(_ data: Data) -> ListPage? {
        data.withUnsafeBytes { raw in
            // SAFETY: the scanner reads the bytes only inside this closure, while `data` keeps them alive.
            var scanner = XMLScanner(bytes: raw.bindMemory(to: UInt8.self))
            var reader = Reader()
            let ok = scanner.scan(open: { name, _ in reader.open(name) }, close: { name, text in reader.close(name, text) })
            guard ok, reader.sawRoot else { return nil }
            reader.page.nextContinuationToken = reader.truncated ? reader.token : nil
            return reader.page
        }
    }

    enum Tag { case root, contents, prefixes, userMetadata, other }

    /// The elements open above the one being read, and what has been read so far.
    struct Reader {
        var path: [Tag] = []
        var sawRoot = false
        var page = ListPage()
        var entry = ObjectInfo(key: "", size: 0)
        /// The `<CommonPrefixes>` being read: its prefix and metadata.
        var prefix: String?
        var prefixMeta: [String: String]?
        var truncated = false
        var token: String?

        mutating func open(_ name: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
            let tag: Tag
            switch path.last {
            case nil:
                guard !sawRoot, name.elementsEqual("ListBucketResult".utf8) else { return false }
                sawRoot = true
                tag = .root
            case .root?:
                if name.elementsEqual("Contents".utf8) {
                    entry = ObjectInfo(key: "", size: 0)
                    tag = .contents
                } else if name.elementsEqual("CommonPrefixes".utf8) {
                    (prefix, prefixMeta) = (nil, nil)
                    tag = .prefixes
                } else {
                    tag = .other
                }
            case .contents?:
                if name.elementsEqual("UserMetadata".utf8) { entry.hasMetadata = true; tag = .userMetadata } else { tag = .other }
            case .prefixes?:
                if name.elementsEqual("UserMetadata".utf8) { prefixMeta = prefixMeta ?? [:]; tag = .userMetadata } else { tag = .other }
            default:
                tag = .other
            }
            path.append(tag)
            return true
        }

        mutating func close(_ name: Slice<UnsafeBufferPointer<UInt8>>, _ text: [UInt8]) -> Bool {
            let tag = path.removeLast()  // (the scanner matched the end tag with its start)
            switch (path.last, tag) {
            case (.root?, .contents):
                page.objects.append(entry)
            case (.root?, .prefixes):
                if let prefix, let prefixMeta { page.prefixMetadata[prefix] = prefixMeta }
            case (.root?, .other):
                if name.elementsEqual("IsTruncated".utf8) { truncated = text.elementsEqual("true".utf8) }
                else if name.elementsEqual("NextContinuationToken".utf8) { token = String(decoding: text, as: UTF8.self) }
                else if name.elementsEqual("EncodingType".utf8) { page.encodingType = String(decoding: text, as: UTF8.self) }
            case (.prefixes?, .other):
                if name.elementsEqual("Prefix".utf8) {
                    let p = String(decoding: text, as: UTF8.self)
                    prefix = p
                    page.commonPrefixes.append(p)
                }
            case (.contents?, .other):
                if name.elementsEqual("Key".utf8) { entry.key = String(decoding: text, as: UTF8.self) }
                else if name.elementsEqual("ETag".utf8) { entry.etag = String(decoding: text, as: UTF8.self) }
                else if name.elementsEqual("Size".utf8) { entry.size = Int64(String(decoding: text, as: UTF8.self)) ?? 0 }
                else if name.elementsEqual("LastModified".utf8) { entry.lastModified = UTCTime.parseISO8601(String(decoding: text, as: UTF8.self)) }
            case (.userMetadata?, .other):
                let lower = name.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
                if lower.starts(with: "x-amz-meta-".utf8) {
                    let (k, v) = (String(decoding: lower.dropFirst(11), as: UTF8.self), String(decoding: text, as: UTF8.self))
                    // Inside a `<CommonPrefixes>` (its parent is one) or a `<Contents>`.
                    if path.count >= 2 && path[path.count - 2] == .prefixes { prefixMeta?[k] = v } else { entry.metadata[k] = v }
                }
            default:
                break
            }
            return true
        }
    }
}
