import Foundation
@testable import S3
import Testing

@Suite struct SigV4Tests {
    /// The GET Object example of the AWS SigV4 documentation (header-based auth).
    @Test func awsDocumentationExampleSignature() throws {
        let date = try #require(ISO8601DateFormatter().date(from: "2013-05-24T00:00:00Z"))
        let headers = SigV4.sign(
            method: "GET", url: URL(string: "https://examplebucket.s3.amazonaws.com/test.txt")!,
            headers: [("Range", "bytes=0-9")], payloadHash: SigV4.emptySHA256,
            credentials: .init(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            date: date)
        let auth = try #require(headers.first { $0.0 == "Authorization" }?.1)
        #expect(auth == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test func canonicalQuerySortsAndEncodes() {
        #expect(SigV4.canonicalQuery("prefix=a%2Fb c&list-type=2&delimiter=/") == "delimiter=%2F&list-type=2&prefix=a%2Fb%20c")
        #expect(SigV4.canonicalQuery("uploads") == "uploads=")
    }

    @Test func canonicalURIKeepsSlashesAndEncodesTheRest() {
        #expect(SigV4.canonicalURI("/bucket/a b/ü+x") == "/bucket/a%20b/%C3%BC%2Bx")
    }
}
