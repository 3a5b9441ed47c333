import Foundation
import S3
import Testing
import TestSupport

@Suite struct S3ParsingTests {
    @Test func listingXMLWithEntitiesCDATAAndAttributes() throws {
        let xml = """
        <?xml version="1.0" encoding="UTF-8"?>
        <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><!-- page 1 -->
          <Name>b</Name><IsTruncated>false</IsTruncated>
          <Contents><Key>a &amp; b &lt;c&gt; &#233;&#x4E2D;</Key><Size>5</Size></Contents>
          <Contents><Key><![CDATA[x<y]]></Key><Size>0</Size><Empty/></Contents>
        </ListBucketResult>
        """
        let root = try #require(XMLNode.parse(Data(xml.utf8)))
        #expect(root.name == "ListBucketResult")
        let keys = root.all("Contents").compactMap { $0.string("Key") }
        #expect(keys == ["a & b <c> é中", "x<y"])
        #expect(root.all("Contents")[1].child("Empty") != nil)
        #expect(root.string("IsTruncated") == "false")
    }

    @Test(arguments: ["", "<a>", "<a></b>", "<a>x</a><b/>", "<a>&bogus;</a>", "<!DOCTYPE x [<!ENTITY e 'x'>]><a>&e;</a>", "junk<a/>", "<a b='1></a>"])
    func malformedXMLIsRefused(_ text: String) {
        #expect(XMLNode.parse(Data(text.utf8)) == nil)
    }

    @Test(arguments: ["", "<a>", "<a></b>", "<a>x</a><b/>", "<ListBucketResult><Contents></ListBucketResult>", "<Other/>",
                      "<ListBucketResult/><ListBucketResult/>", "<ListBucketResult>&bogus;</ListBucketResult>"])
    func malformedListingsAreRefused(_ text: String) {
        #expect(ListingXML.page(Data(text.utf8)) == nil)
    }

    /// The listing read without a tree gives what the tree gives, over random listings with
    /// references, CDATA, metadata, nested and unknown elements, prefixes and truncation.
    @Test func aListingReadDirectlyIsWhatItsTreeSays() throws {
        var rng = SplitMix64(state: 20261207)
        let pieces = ["a", "b b", "&amp;", "&lt;x&gt;", "&#233;", "&#x4E2D;", "<![CDATA[<y>]]>", "日本", "+", "%20", "&#34;"]
        func text() -> String { (0..<Int.random(in: 0...3, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined() }
        for _ in 0..<200 {
            var xml = "<?xml version=\"1.0\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>"
            let truncated = Bool.random(using: &rng)
            xml += "<IsTruncated>\(truncated)</IsTruncated>"
            if Bool.random(using: &rng) { xml += "<EncodingType>url</EncodingType>" }
            for _ in 0..<Int.random(in: 0...6, using: &rng) {
                xml += "<Contents><Key>\(text())</Key><ETag>&#34;\(Int.random(in: 0...99, using: &rng))&#34;</ETag><Size>\(Int.random(in: 0...9999, using: &rng))</Size>"
                xml += "<LastModified>2026-12-0\(Int.random(in: 1...7, using: &rng))T01:02:03Z</LastModified><Owner><ID>x</ID></Owner>"
                if Bool.random(using: &rng) {
                    xml += "<UserMetadata>" + (0..<Int.random(in: 0...3, using: &rng)).map { i in
                        let name = ["X-Amz-Meta-Mode", "x-amz-meta-uid", "X-Amz-Meta-note\(i)", "Other"].randomElement(using: &rng)!
                        return "<\(name)>\(text())</\(name)>"
                    }.joined() + "</UserMetadata>"
                }
                xml += "</Contents>"
            }
            for _ in 0..<Int.random(in: 0...3, using: &rng) { xml += "<CommonPrefixes><Prefix>\(text())/</Prefix></CommonPrefixes>" }
            if truncated || Bool.random(using: &rng) { xml += "<NextContinuationToken>\(text())</NextContinuationToken>" }
            xml += "<KeyCount>1</KeyCount></ListBucketResult>"
            let data = Data(xml.utf8)
            let page = try #require(ListingXML.page(data), "\(xml)")
            let root = try #require(XMLNode.parse(data))
            let contents = root.all("Contents")
            #expect(page.objects.map(\.key) == contents.map { $0.string("Key") ?? "" })
            #expect(page.objects.map(\.etag) == contents.map { $0.string("ETag") })
            #expect(page.objects.map(\.size) == contents.map { Int64($0.string("Size") ?? "") ?? 0 })
            #expect(page.objects.map(\.lastModified) == contents.map { $0.string("LastModified").flatMap(UTCTime.parseISO8601) })
            #expect(page.objects.map(\.hasMetadata) == contents.map { $0.child("UserMetadata") != nil })
            #expect(page.objects.map(\.metadata) == contents.map { c in
                var m: [String: String] = [:]
                for item in c.child("UserMetadata")?.children ?? [] where item.name.lowercased().hasPrefix("x-amz-meta-") {
                    m[String(item.name.lowercased().dropFirst(11))] = item.text
                }
                return m
            })
            #expect(page.commonPrefixes == root.all("CommonPrefixes").compactMap { $0.string("Prefix") })
            #expect(page.nextContinuationToken == (truncated ? root.string("NextContinuationToken") : nil))
            #expect(page.encodingType == root.string("EncodingType"))
        }
    }

    @Test func timestampsParseWithoutLocaleMachinery() throws {
        let iso = try #require(UTCTime.parseISO8601("2026-11-23T07:41:17.250Z"))
        #expect(iso.timeIntervalSince1970 == 1_795_419_677.25)
        #expect(UTCTime.parseISO8601("2026-11-23T07:41:17Z")?.timeIntervalSince1970 == 1_795_419_677)
        #expect(UTCTime.parseHTTPDate("Mon, 23 Nov 2026 07:41:17 GMT")?.timeIntervalSince1970 == 1_795_419_677)
        for bad in ["", "2026-13-01T00:00:00Z", "2026-11-23 07:41:17Z", "Mon, 23 Foo 2026 07:41:17 GMT", "Mon, 23 Nov 2026 07:41 GMT"] {
            #expect(UTCTime.parseISO8601(bad) == nil && UTCTime.parseHTTPDate(bad) == nil)
        }
        #expect(UTCTime.amzDate(iso) == "20261123T074117Z")
        #expect(UTCTime.iso8601Millis(iso) == "2026-11-23T07:41:17.250Z")
    }
}
