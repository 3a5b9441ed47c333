import Foundation
import S3
#if canImport(Glibc)
import Glibc
#endif

/// ListObjectsV2 with `metadata=true` (MinIO's extension, which the MinIO SDKs parse): the
/// engine's own listing, byte for byte, with a `<UserMetadata>` element added to each
/// `<Contents>` — `<X-Amz-Meta-mode>33188</X-Amz-Meta-mode>`, names as a HEAD returns them —
/// taken from the filer's listing of the entry's directory (each entry's `Extended` map holds the
/// `X-Amz-Meta-*` headers its PUT stored). An entry gets the element only when the filer's entry
/// is the version listed (same ETag) and every name and value can be written as XML; a client
/// asks HEAD for the others. This file decides; `GatewayCore.listWithMetadata` does the requests.
enum ListingMetadata {
    /// One `<Contents>` of the engine's listing.
    struct Listed: Equatable {
        var key: String
        var etag: String?
        var lastModified: Date?
        /// A `<CommonPrefixes>` (its key ends in `/`): a directory, whose filer entry is the one
        /// there is (no version to match).
        var directory = false
    }

    /// The `<Contents>` of a listing, keys decoded when the listing is URL-encoded; nil when the
    /// document is not a listing.
    static func contents(_ xml: Data) -> [Listed]? { entries(xml)?.contents }

    /// The `<Contents>` and the `<CommonPrefixes>` of a listing, in document order.
    static func entries(_ xml: Data) -> (contents: [Listed], prefixes: [Listed])? {
        guard let page = ListingXML.page(xml)?.decodingKeys() else { return nil }
        return (page.objects.map { Listed(key: $0.key, etag: $0.etag.map(ETag.unquoted), lastModified: $0.lastModified) },
                page.commonPrefixes.map { Listed(key: $0, directory: true) })
    }

    /// A key, directory or name compared by its bytes. Swift's `String` equality is canonical
    /// (NFC "é" equals NFD "é"), but S3 keys and filer names are byte strings: two such names are
    /// two objects, and one must never be given the other's metadata.
    struct Exact: Hashable {
        let bytes: [UInt8]
        init(_ s: String) { bytes = Array(s.utf8) }
    }

    /// The filer directory (relative to the bucket, "" for its root) and name a key is kept
    /// under: `a/b/c` → (`a/b`, `c`), a directory marker `a/b/` → (`a`, `b`). Keys with an empty,
    /// `.` or `..` segment have no such place.
    static func place(_ key: String) -> (dir: String, name: String)? {
        var k = Substring(key)
        if k.hasSuffix("/") { k = k.dropLast() }
        let parts = k.split(separator: "/", omittingEmptySubsequences: false)
        guard let name = parts.last, !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else { return nil }
        return (parts.dropLast().joined(separator: "/"), String(name))
    }

    /// A string that sorts (as bytes, as the filer sorts names) just before `name` with no
    /// valid UTF-8 name in between — for the filer's exclusive `lastFileName` to start at `name`:
    /// its last byte one less, then 0xFF (a byte UTF-8 never has).
    static func before(_ name: String) -> [UInt8] {
        var b = Array(name.utf8)
        guard let last = b.last, last > 0 else { return [] }
        b[b.count - 1] = last - 1
        b.append(0xFF)
        return b
    }

    /// What the filer's entry says the listed version's user metadata are: the element's
    /// content, or nil when the entry is another version or has a name or value XML cannot hold.
    static func element(for entry: FilerClient.Entry, listed: Listed) -> String? {
        if !listed.directory {
            guard let etag = listed.etag, etag == Self.etag(of: entry) else { return nil }
        }
        var items: [(name: [UInt8], value: Data)] = []
        for (name, value) in entry.extended where name != "Seaweed-X-Amz-ETag" && FilerClient.Entry.kept(name) {
            // A directory's attributes (kept as tags) read as its marker's metadata.
            let tagged = DirectoryAttributes.metadataName(ofTag: name)
            if listed.directory && tagged == nil { continue }
            let metaName = tagged ?? String(name.dropFirst(11))
            var suffix: [UInt8] = []
            for b in metaName.utf8 {
                let lower = b >= 0x41 && b <= 0x5A ? b | 0x20 : b
                guard nameByte(lower) else { return nil }
                suffix.append(lower)
            }
            // Valid UTF-8 without control characters but tab: a byte below 0x20 is one.
            guard !value.contains(where: { $0 < 0x20 && $0 != 0x09 }), String(validating: value, as: UTF8.self) != nil else { return nil }
            items.append((suffix, value))
        }
        items.sort { $0.name.lexicographicallyPrecedes($1.name) }
        var out: [UInt8] = []
        for (name, value) in items {
            out.append(contentsOf: "<X-Amz-Meta-".utf8)
            out.append(contentsOf: name)
            out.append(UInt8(ascii: ">"))
            xmlEscape(utf8: value, into: &out)
            out.append(contentsOf: "</X-Amz-Meta-".utf8)
            out.append(contentsOf: name)
            out.append(UInt8(ascii: ">"))
        }
        // A directory without attributes gets no element (nothing is claimed).
        return listed.directory && items.isEmpty ? nil : String(decoding: out, as: UTF8.self)
    }

    /// The ETag SeaweedFS's S3 API gives an entry: the one it stored (multipart, copies), else
    /// the hex MD5 of the content; nil when neither is kept (then nothing is claimed).
    static func etag(of entry: FilerClient.Entry) -> String? {
        if let stored = entry.extended["Seaweed-X-Amz-ETag"], let s = String(validating: stored, as: UTF8.self) { return ETag.unquoted(s) }
        guard let md5 = entry.md5, md5.count == 16 else { return nil }
        return SigV4.hex(md5)
    }

    /// Bytes allowed in an element name after `X-Amz-Meta-` (lowercased).
    static func nameByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
            || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".")
    }

    /// The listing with `<UserMetadata>…</UserMetadata>` before the end of each `<Contents>`
    /// whose element is known (`elements` in listing order), and of each `<CommonPrefixes>`
    /// (`prefixElements`, when given); nil when the document has another number of either than was parsed.
    static func splice(_ xml: Data, _ elements: [String?], prefixElements: [String?]? = nil) -> Data? {
        let contents = cuts(of: "</Contents>", in: xml), prefixes = prefixElements == nil ? [] : cuts(of: "</CommonPrefixes>", in: xml)
        let prefixElements = prefixElements ?? []
        guard contents.count == elements.count, prefixes.count == prefixElements.count else { return nil }
        let all = (zip(contents, elements).map { $0 } + zip(prefixes, prefixElements).map { $0 }).sorted { $0.0 < $1.0 }
        var out = Data()
        out.reserveCapacity(xml.count + all.reduce(0) { $0 + ($1.1?.utf8.count ?? 0) + 31 })
        var from = 0
        for (cut, element) in all {
            guard let element else { continue }
            out.append(xml[(xml.startIndex + from)..<(xml.startIndex + cut)])
            out.append(contentsOf: Array(("<UserMetadata>" + element + "</UserMetadata>").utf8))
            from = cut
        }
        out.append(xml[(xml.startIndex + from)...])
        return out
    }

    /// The offsets of each `tag` in the document.
    static func cuts(of tag: String, in xml: Data) -> [Int] {
        let end = Array(tag.utf8)
        var cuts: [Int] = []
        xml.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            // SAFETY: `raw` is read only inside this closure, while `xml` keeps the bytes alive.
            guard let base = raw.baseAddress, raw.count >= end.count else { return }
            var at = 0
            while at <= raw.count - end.count, let hit = memchr(base + at, Int32(end[0]), raw.count - end.count + 1 - at) {
                let i = base.distance(to: UnsafeRawPointer(hit))
                if memcmp(hit, end, end.count) == 0 { cuts.append(i); at = i + end.count } else { at = i + 1 }
            }
        }
        return cuts
    }
}
