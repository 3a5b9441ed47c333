@testable import Daemon
import Foundation
import S3
import TestSupport
import Testing

/// The pure parts of listings that carry metadata: where a key lives in the filer, where its
/// directory listing starts, which filer entry may speak for a listed version, and the splice
/// that leaves every byte of the engine's listing as it was.
@Suite struct ListingMetadataTests {
    @Test func keysMapToTheirFilerDirectoryAndName() {
        #expect(ListingMetadata.place("a/b/c.txt")! == ("a/b", "c.txt"))
        #expect(ListingMetadata.place("top")! == ("", "top"))
        #expect(ListingMetadata.place("a/b/")! == ("a", "b"))
        for bad in ["a//b", "./x", "a/../b", "", "/"] { #expect(ListingMetadata.place(bad) == nil, "\(bad)") }
    }

    /// The filer's `lastFileName` is exclusive: the start must sort just before the name, after
    /// every name that sorts before it.
    @Test func theListingStartSortsJustBeforeTheName() {
        let names = ["a", "a.txt", "a.txs", "a.txs\u{10FFFF}", "a.txt0", "b", "é", "f000100", "f000099", "日本"]
        for n in names {
            let start = ListingMetadata.before(n)
            for other in names {
                let o = Array(other.utf8)
                if other == n { #expect(start.lexicographicallyPrecedes(o), "\(n)") }
                else if o.lexicographicallyPrecedes(Array(n.utf8)) { #expect(o.lexicographicallyPrecedes(start), "\(other) < start of \(n)") }
                else { #expect(start.lexicographicallyPrecedes(o), "start of \(n) < \(other)") }
            }
        }
    }

    func entry(etag: String?, md5: Data? = nil, extended: [String: String]) -> FilerClient.Entry {
        var ext = extended.mapValues { Data($0.utf8) }
        if let etag { ext["Seaweed-X-Amz-ETag"] = Data(etag.utf8) }
        return FilerClient.Entry(fullPath: "/buckets/b/d/x", md5: md5, extended: ext)
    }

    @Test func onlyTheListedVersionsMetadataAreGivenAndOnlyWhatXMLCanHold() {
        let listed = ListingMetadata.Listed(key: "d/x", etag: "abc", lastModified: nil)
        let e = entry(etag: "abc", extended: ["X-Amz-Meta-Mode": "33188", "X-Amz-Meta-Note": "a<b & \"c\"", "Seaweed-X-Amz-Owner": "me"])
        #expect(ListingMetadata.element(for: e, listed: listed) == "<X-Amz-Meta-mode>33188</X-Amz-Meta-mode><X-Amz-Meta-note>a&lt;b &amp; &quot;c&quot;</X-Amz-Meta-note>")
        #expect(ListingMetadata.element(for: entry(etag: "abc", extended: [:]), listed: listed) == "")  // known: none
        // Another version (overwritten between the two listings), or no ETag to tell: nothing claimed.
        #expect(ListingMetadata.element(for: entry(etag: "new", extended: ["X-Amz-Meta-Mode": "1"]), listed: listed) == nil)
        #expect(ListingMetadata.element(for: entry(etag: nil, extended: [:]), listed: listed) == nil)
        // The MD5 speaks for entries without a stored ETag.
        let md5 = Data((0..<16).map { UInt8($0) })
        let byMD5 = ListingMetadata.Listed(key: "d/x", etag: "000102030405060708090a0b0c0d0e0f", lastModified: nil)
        #expect(ListingMetadata.element(for: entry(etag: nil, md5: md5, extended: [:]), listed: byMD5) == "")
        // A name or value XML cannot hold: the client asks HEAD instead.
        #expect(ListingMetadata.element(for: entry(etag: "abc", extended: ["X-Amz-Meta-a/b": "1"]), listed: listed) == nil)
        #expect(ListingMetadata.element(for: entry(etag: "abc", extended: ["X-Amz-Meta-c": "\u{1}"]), listed: listed) == nil)
        var binary = entry(etag: "abc", extended: [:])
        binary.extended["X-Amz-Meta-bin"] = Data([0xFF, 0xFE])
        #expect(ListingMetadata.element(for: binary, listed: listed) == nil)
    }

    /// The filer's JSON as SeaweedFS 4.48 writes it (base64 values, chunks, nulls): only the path,
    /// the MD5, the user metadata and the stored ETag are kept.
    @Test func aFilerPageDecodesToWhatTheListingNeeds() throws {
        let json = #"{"Version":"4.48","Path":"/buckets/b/d","Entries":[{"FullPath":"/buckets/b/d/a.txt","Mtime":"2026-12-03T14:06:11Z","Mode":432,"Md5":"dk76iD3aHhHbR2ccSju9ng==","FileSize":3,"Extended":{"Seaweed-X-Amz-ETag":"NzY0ZWZhODgzZGRhMWUxMWRiNDc2NzFjNGEzYmJkOWU=","Seaweed-X-Amz-Owner":"Z2FyYWdldHl0dXMtZGFlbW9u","X-Amz-Meta-Mode":"MzMxODg=","x-amz-meta-uid":"MTAwMA=="},"chunks":[{"file_id":"1,0127bb6a20","size":3}],"Content":null},{"FullPath":"/buckets/b/d/sub","Mode":2147484153,"Md5":null,"Extended":null}],"Limit":1024,"LastFileName":"sub","ShouldDisplayLoadMore":false,"EmptyFolder":false}"#
        let page = try FilerListingJSON.page(Array(json.utf8))
        let e = try #require(page.Entries?.first)
        #expect(e.name == "a.txt" && page.Entries?.last?.name == "sub" && page.Entries?.last?.extended == [:])
        #expect(Set(e.extended.keys) == ["Seaweed-X-Amz-ETag", "X-Amz-Meta-Mode", "x-amz-meta-uid"])
        #expect(ListingMetadata.etag(of: e) == "764efa883dda1e11db47671c4a3bbd9e")
        let listed = ListingMetadata.Listed(key: "d/a.txt", etag: "764efa883dda1e11db47671c4a3bbd9e", lastModified: nil)
        #expect(ListingMetadata.element(for: e, listed: listed) == "<X-Amz-Meta-mode>33188</X-Amz-Meta-mode><X-Amz-Meta-uid>1000</X-Amz-Meta-uid>")
    }

    /// Random pages written by JSONSerialization (other escapes than Go's, nested values of every
    /// kind around the fields) read back to exactly the paths, MD5s and kept metadata put in;
    /// cut or damaged pages are refused, never misread.
    @Test func filerPagesReadBackWhatTheyHold() throws {
        var rng = SplitMix64(state: 20)
        let alphabet = Array("aZ09 _-./\\\"\n\t\u{1}é€😀<&%+")
        func word(_ n: Int) -> String { String((0..<Int.random(in: 1...n, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }) }
        func junk(_ depth: Int) -> Any {
            switch Int.random(in: 0..<(depth > 2 ? 4 : 6), using: &rng) {
            case 0: return Int.random(in: -5...1 << 40, using: &rng)
            case 1: return word(8)
            case 2: return NSNull()
            case 3: return Bool.random(using: &rng)
            case 4: return (0..<Int.random(in: 0...3, using: &rng)).map { _ in junk(depth + 1) }
            default: return Dictionary(uniqueKeysWithValues: (0..<Int.random(in: 0...3, using: &rng)).map { i in ("k\(i)" + word(3), junk(depth + 1)) })
            }
        }
        for _ in 0..<200 {
            var expected: [(path: String, md5: Data?, kept: [String: Data])] = []
            var entries: [[String: Any]] = []
            for _ in 0..<Int.random(in: 0...6, using: &rng) {
                var e: [String: Any] = ["FullPath": "/buckets/b/" + word(12), "chunks": junk(0), "Mode": 420, "Mtime": "2026-12-03T14:06:11Z"]
                let md5 = Bool.random(using: &rng) ? Data((0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }) : nil
                e["Md5"] = md5.map { $0.base64EncodedString() } ?? NSNull()
                var kept: [String: Data] = [:]
                if Bool.random(using: &rng) {
                    var ext: [String: Any] = ["Seaweed-X-Amz-Owner": Data("o".utf8).base64EncodedString()]
                    for name in ["X-Amz-Meta-Mode", "x-amz-meta-" + word(4), "Seaweed-X-Amz-ETag"] where Bool.random(using: &rng) {
                        let v = Data(word(10).utf8)
                        ext[name] = v.base64EncodedString()
                        kept[name] = v
                    }
                    e["Extended"] = ext
                } else {
                    e["Extended"] = NSNull()
                }
                entries.append(e)
                expected.append((e["FullPath"] as! String, md5, kept))
            }
            let more = Bool.random(using: &rng)
            let top: [String: Any] = ["Path": "/buckets/b", "Entries": entries.isEmpty && Bool.random(using: &rng) ? NSNull() : entries,
                                      "Limit": 1024, "ShouldDisplayLoadMore": more, "Extra": junk(0)]
            let json = try JSONSerialization.data(withJSONObject: top, options: Bool.random(using: &rng) ? [.prettyPrinted] : [])
            let page = try FilerListingJSON.page(Array(json))
            #expect(page.ShouldDisplayLoadMore == more)
            let got = page.Entries ?? []
            #expect(got.map(\.fullPath) == expected.map(\.path))
            #expect(got.map(\.md5) == expected.map(\.md5))
            #expect(got.map(\.extended) == expected.map(\.kept))
            #expect(got.map(\.name) == expected.map { String($0.path.split(separator: "/", omittingEmptySubsequences: false).last!) })
            let cut = Int.random(in: 0..<json.count, using: &rng)
            #expect(throws: FilerListingJSON.Malformed.self) { try FilerListingJSON.page(Array(json.prefix(cut))) }
        }
        #expect(throws: FilerListingJSON.Malformed.self) { try FilerListingJSON.page(Array(#"{"Entries":[{"Md5":null}]}"#.utf8)) }
        #expect(throws: FilerListingJSON.Malformed.self) { try FilerListingJSON.page(Array(#"{"Entries":[] "x":1}"#.utf8)) }
    }

    @Test func theSpliceAddsElementsAndChangesNothingElse() {
        let xml = Data(#"<?xml version="1.0"?><ListBucketResult><Name>b</Name><Contents><Key>a&lt;/Contents&gt;</Key><ETag>&#34;e1&#34;</ETag></Contents><Contents><Key>b</Key><ETag>"e2"</ETag></Contents><CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes></ListBucketResult>"#.utf8)
        let listed = ListingMetadata.contents(xml)!
        #expect(listed.map(\.key) == ["a</Contents>", "b"])
        #expect(listed.map(\.etag) == ["e1", "e2"])
        let out = String(decoding: ListingMetadata.splice(xml, ["<X-Amz-Meta-m>1</X-Amz-Meta-m>", nil])!, as: UTF8.self)
        #expect(out.contains("</ETag><UserMetadata><X-Amz-Meta-m>1</X-Amz-Meta-m></UserMetadata></Contents><Contents><Key>b</Key>"))
        #expect(out.replacingOccurrences(of: "<UserMetadata><X-Amz-Meta-m>1</X-Amz-Meta-m></UserMetadata>", with: "") == String(decoding: xml, as: UTF8.self))
        #expect(ListingMetadata.splice(xml, [nil]) == nil)  // counts disagree: the listing goes out plain
        // A directory's attributes go into its <CommonPrefixes>, after the prefix.
        let both = String(decoding: ListingMetadata.splice(xml, [nil, nil], prefixElements: ["<X-Amz-Meta-mode>16877</X-Amz-Meta-mode>"])!, as: UTF8.self)
        #expect(both.contains("<Prefix>p/</Prefix><UserMetadata><X-Amz-Meta-mode>16877</X-Amz-Meta-mode></UserMetadata></CommonPrefixes>"))
        #expect(ListingMetadata.splice(xml, [nil, nil], prefixElements: []) == nil)
        let page = try! #require(ListingXML.page(Data(both.utf8)))
        #expect(page.commonPrefixes == ["p/"] && page.prefixMetadata == ["p/": ["mode": "16877"]] && page.objects.allSatisfy { $0.metadata.isEmpty })
        let encoded = Data("<ListBucketResult><Contents><Key>a%20b%2Fc+d%2B</Key></Contents><EncodingType>url</EncodingType></ListBucketResult>".utf8)
        #expect(ListingMetadata.contents(encoded)?.map(\.key) == ["a b/c d+"])
    }

    /// What SeaweedFS's filer checks: HS256 over header and claims with the read key.
    @Test func theFilerTokenIsAnHS256JWTThatExpires() throws {
        let jwt = FilerClient.jwt(key: "k", expires: Date(timeIntervalSince1970: 1_800_000_000))
        let parts = jwt.split(separator: ".").map(String.init)
        #expect(parts.count == 3)
        func decode(_ s: String) -> String {
            var b = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while b.count % 4 != 0 { b += "=" }
            return String(decoding: Data(base64Encoded: b)!, as: UTF8.self)
        }
        #expect(decode(parts[0]) == #"{"alg":"HS256","typ":"JWT"}"#)
        #expect(decode(parts[1]) == #"{"exp":1800000000}"#)
        // Reference value computed with Python's hmac (sha256, key "k") over the first two parts.
        #expect(parts[2] == "EP3M298G-sF_Z294jqOgx3ednhZOLG-8J06qcM_WQ-0")
    }

    @Test func directoryAttributesAreFilerTagsInGosCanonicalForm() {
        #expect(DirectoryAttributes.tagName("mode") == "Gt-Meta-Mode")
        #expect(DirectoryAttributes.tagName("content-kind") == "Gt-Meta-Content-Kind")
        #expect(DirectoryAttributes.metadataName(ofTag: "Seaweed-Gt-Meta-Content-Kind") == "content-kind")
        #expect(DirectoryAttributes.metadataName(ofTag: "Seaweed-X-Amz-ETag") == nil)
        #expect(DirectoryAttributes.metadata(of: [("X-Amz-Meta-Mode", "16877"), ("Host", "h"), ("x-amz-meta-uid", "1")]).map { "\($0.0)=\($0.1)" } == ["mode=16877", "uid=1"])
        // A directory's element holds its tags only; without any it has none.
        let dir = FilerClient.Entry(fullPath: "/buckets/b/d", extended: ["Seaweed-Gt-Meta-Mode": Data("16877".utf8), "Seaweed-X-Amz-ETag": Data("e".utf8)])
        #expect(ListingMetadata.element(for: dir, listed: .init(key: "d/", directory: true)) == "<X-Amz-Meta-mode>16877</X-Amz-Meta-mode>")
        #expect(ListingMetadata.element(for: FilerClient.Entry(fullPath: "/buckets/b/e"), listed: .init(key: "e/", directory: true)) == nil)
    }
}
