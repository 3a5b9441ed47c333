import Foundation
import S3
import Testing

@Suite struct AWSChunkedDecoderTests {
    /// AWS's documented example: 66560 × "a" in chunks of 65536, 1024 and 0 bytes.
    func example() throws -> (SigV4Verified, [UInt8]) {
        let ak = "AKIAIOSFODNN7EXAMPLE"
        let verifier = SigV4Verifier(secret: { $0 == ak ? "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" : nil },
                                     now: { UTCTime.parseISO8601("2013-05-24T00:00:00Z")! })
        let auth = "AWS4-HMAC-SHA256 Credential=\(ak)/20130524/us-east-1/s3/aws4_request,"
            + "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,"
            + "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
        let v = try verifier.verify(SignedRequest(method: "PUT", rawPath: "/examplebucket/chunkObject.txt", rawQuery: "", headers: [
            ("Host", "s3.amazonaws.com"), ("x-amz-date", "20130524T000000Z"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("Authorization", auth), ("x-amz-content-sha256", SigV4Verifier.streamingPayload), ("Content-Encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"), ("Content-Length", "66824"),
        ]))
        var body = Array("10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n".utf8)
        body += [UInt8](repeating: UInt8(ascii: "a"), count: 65536) + Array("\r\n".utf8)
        body += Array("400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n".utf8)
        body += [UInt8](repeating: UInt8(ascii: "a"), count: 1024) + Array("\r\n".utf8)
        body += Array("0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n".utf8)
        #expect(body.count == 66824)
        return (v, body)
    }

    @Test func signedExampleDecodesInAnySlicing() throws {
        let (v, body) = try example()
        for step in [1, 7, 4096, 100_000] {
            var d = AWSChunkedDecoder(mode: .signed(v))
            var out: [UInt8] = []
            var i = 0
            while i < body.count {
                out += try d.feed(body[i..<min(body.count, i + step)])
                i += step
            }
            try d.finish()
            #expect(out.count == 66560 && out.allSatisfy { $0 == UInt8(ascii: "a") } && d.decodedLength == 66560)
        }
    }

    @Test func alteredBytesTruncationAndOversizedChunksAreRefused() throws {
        let (v, body) = try example()
        var altered = body
        altered[200] = UInt8(ascii: "b")
        var d = AWSChunkedDecoder(mode: .signed(v))
        #expect(throws: AWSChunkedDecoder.Failure.self) { _ = try d.feed(altered) }

        d = AWSChunkedDecoder(mode: .signed(v))
        let released = try d.feed(body.prefix(66000))
        #expect(released.count == 65536)  // only the verified first chunk
        #expect(throws: AWSChunkedDecoder.Failure.self) { try d.finish() }

        var small = AWSChunkedDecoder(mode: .signed(v), maxChunk: 1024)
        #expect(throws: AWSChunkedDecoder.Failure.self) { _ = try small.feed(body) }
        var garbage = AWSChunkedDecoder(mode: .unsigned)
        #expect(throws: AWSChunkedDecoder.Failure.self) { _ = try garbage.feed(Array("zz\r\n".utf8)) }
    }

    @Test func unsignedChunksWithTrailingChecksum() throws {
        let body = Array("5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n".utf8)
        var d = AWSChunkedDecoder(mode: .unsigned)
        var out: [UInt8] = []
        for b in body { out += try d.feed([b]) }
        try d.finish()
        #expect(String(decoding: out, as: UTF8.self) == "hello world")
        #expect(d.trailers.count == 1 && d.trailers[0].0 == "x-amz-checksum-crc32" && d.trailers[0].1 == "DUoRhQ==")
    }
}
