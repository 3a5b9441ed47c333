import Foundation
import S3
import Testing

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
