import Foundation
import S3
import Testing

/// The S3 front door's signature check, against AWS's documented examples and our own signer.
@Suite struct SigV4VerifierTests {
    static let ak = "AKIAIOSFODNN7EXAMPLE", sk = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    static let t0 = UTCTime.parseISO8601("2013-05-24T00:00:00Z")!

    func verifier(at t: Date = t0) -> SigV4Verifier {
        SigV4Verifier(secret: { $0 == Self.ak ? Self.sk : nil }, now: { t })
    }

    func awsGetObject(signature: String = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41") -> SignedRequest {
        SignedRequest(method: "GET", rawPath: "/test.txt", rawQuery: "", headers: [
            ("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9"),
            ("x-amz-content-sha256", SigV4.emptySHA256), ("x-amz-date", "20130524T000000Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=\(Self.ak)/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=\(signature)"),
        ])
    }

    @Test func awsHeaderExampleVerifiesAndATamperedOneDoesNot() throws {
        let v = try verifier().verify(awsGetObject())
        #expect(v.accessKeyID == Self.ak && !v.presigned && v.payloadHash == SigV4.emptySHA256)
        var tampered = awsGetObject()
        tampered.headers[1].1 = "bytes=0-99"
        #expect(throws: SigV4Rejection.self) { try verifier().verify(tampered) }
        do {
            _ = try verifier().verify(awsGetObject(signature: String(repeating: "0", count: 64)))
            Issue.record("a wrong signature was accepted")
        } catch let e as SigV4Rejection {
            #expect(e.code == "SignatureDoesNotMatch" && e.message.contains("AKIA***MPLE"))
        }
    }

    @Test func awsPresignedExampleVerifiesUntilItExpires() throws {
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            + "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
            + "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        let r = SignedRequest(method: "GET", rawPath: "/test.txt", rawQuery: q, headers: [("Host", "examplebucket.s3.amazonaws.com")])
        #expect(try verifier(at: Self.t0.addingTimeInterval(3600)).verify(r).presigned)
        do {
            _ = try verifier(at: Self.t0.addingTimeInterval(86_401)).verify(r)
            Issue.record("an expired presigned URL was accepted")
        } catch let e as SigV4Rejection {
            #expect(e.code == "AccessDenied" && e.message.contains("expired at 2013-05-25T00:00:00"))
        }
        // A longer expiry than 7 days, or a tampered one, is refused.
        let long = SignedRequest(method: "GET", rawPath: "/test.txt", rawQuery: q.replacingOccurrences(of: "86400", with: "604801"),
                                 headers: r.headers)
        #expect(throws: SigV4Rejection.self) { try verifier().verify(long) }
        let tampered = SignedRequest(method: "GET", rawPath: "/test.txt", rawQuery: q.replacingOccurrences(of: "86400", with: "86500"),
                                     headers: r.headers)
        #expect(throws: SigV4Rejection.self) { try verifier().verify(tampered) }
    }

    @Test func ourSignerAndTheVerifierAgreeIncludingEncodedKeysAndQueries() throws {
        let creds = S3Credentials(accessKeyID: Self.ak, secretAccessKey: Self.sk)
        let url = URL(string: "http://127.0.0.1:3900/bucket/dir/a%20b%2Bc.txt?uploadId=x%2By&partNumber=3")!
        let signed = SigV4.sign(method: "PUT", url: url, headers: [("Content-Type", "text/plain")], payloadHash: SigV4.unsignedPayload,
                                credentials: creds, date: Self.t0)
        let r = SignedRequest(method: "PUT", rawPath: "/bucket/dir/a%20b%2Bc.txt", rawQuery: "uploadId=x%2By&partNumber=3",
                              headers: [("Host", "127.0.0.1:3900"), ("Content-Type", "text/plain")] + signed)
        #expect(try verifier().verify(r).payloadHash == SigV4.unsignedPayload)
        var other = r
        other.rawPath = "/bucket/dir/a%20b%2Bd.txt"
        #expect(throws: SigV4Rejection.self) { try verifier().verify(other) }
    }

    @Test func skewUnknownKeysAndMalformedHeadersAreRefusedWithTheirCodes() throws {
        func code(_ r: SignedRequest, at t: Date = Self.t0) -> String? {
            do { _ = try verifier(at: t).verify(r); return nil } catch let e as SigV4Rejection { return e.code } catch { return "?" }
        }
        #expect(code(awsGetObject(), at: Self.t0.addingTimeInterval(16 * 60)) == "RequestTimeTooSkewed")
        #expect(code(awsGetObject(), at: Self.t0.addingTimeInterval(14 * 60)) == nil)
        var r = awsGetObject()
        r.headers[4].1 = r.headers[4].1.replacingOccurrences(of: Self.ak, with: "AKIDUNKNOWN0000000")
        #expect(code(r) == "InvalidAccessKeyId")
        r = awsGetObject()
        r.headers[4].1 = "AWS4-HMAC-SHA256 Credential=\(Self.ak)/20130524/us-east-1/s3/aws4_request"
        #expect(code(r) == "AuthorizationHeaderMalformed")
        r = awsGetObject()
        r.headers[4].1 = "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg="
        #expect(code(r) == "AuthorizationHeaderMalformed")
        #expect(code(SignedRequest(method: "GET", rawPath: "/", rawQuery: "", headers: [("Host", "x")])) == "AccessDenied")
    }

    @Test func awsChunkedExampleFirstChunkSignature() throws {
        let auth = "AWS4-HMAC-SHA256 Credential=\(Self.ak)/20130524/us-east-1/s3/aws4_request,"
            + "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,"
            + "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
        let r = SignedRequest(method: "PUT", rawPath: "/examplebucket/chunkObject.txt", rawQuery: "", headers: [
            ("Host", "s3.amazonaws.com"), ("x-amz-date", "20130524T000000Z"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("Authorization", auth), ("x-amz-content-sha256", SigV4Verifier.streamingPayload), ("Content-Encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"), ("Content-Length", "66824"),
        ])
        let v = try verifier().verify(r)
        #expect(v.payloadHash == SigV4Verifier.streamingPayload)
        let first = SigV4Verifier.chunkSignature(previous: v.signature, chunk: Data(repeating: UInt8(ascii: "a"), count: 65536), verified: v)
        #expect(first == "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648")
        let second = SigV4Verifier.chunkSignature(previous: first, chunk: Data(repeating: UInt8(ascii: "a"), count: 1024), verified: v)
        #expect(second == "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497")
        #expect(SigV4Verifier.chunkSignature(previous: second, chunk: Data(), verified: v)
            == "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9")
    }

    @Test func aPresignedURLRefusesXAmzHeadersItsSignerDidNotSign() throws {
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            + "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
            + "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        let at = Self.t0.addingTimeInterval(3600)
        func outcome(_ extra: [(String, String)]) -> String {
            let r = SignedRequest(method: "GET", rawPath: "/test.txt", rawQuery: q, headers: [("Host", "examplebucket.s3.amazonaws.com")] + extra)
            do { _ = try verifier(at: at).verify(r); return "ok" } catch let e as SigV4Rejection { return "\(e.code): \(e.message)" } catch { return "?" }
        }
        #expect(outcome([]) == "ok")
        #expect(outcome([("Range", "bytes=0-9"), ("x-amz-content-sha256", SigV4.unsignedPayload)]) == "ok")
        for header in ["x-amz-copy-source", "X-Amz-Tagging", "x-amz-meta-owner", "x-amz-acl", "x-amz-checksum-crc32"] {
            let o = outcome([(header, "examplebucket/other.txt")])
            #expect(o.hasPrefix("AccessDenied: There were headers present in the request which were not signed: \(header.lowercased())"), "\(o)")
        }
        // Header authentication keeps its own rule: what it signs is what counts.
        var r = awsGetObject()
        r.headers.append(("x-amz-meta-extra", "x"))
        #expect(try verifier().verify(r).accessKeyID == Self.ak)
    }
}
