import Foundation
import Daemon
import S3
import Testing
import TestSupport

@Suite struct AWSChunkedDecoderTests {
    /// AWS's documented example: 66560 × "a" in chunks of 65536, 1024 and 0 bytes.
    func example() throws -> (SigV4Verified, [UInt8]) {
        let body = AWSChunkedExample.body
        #expect(body.count == 66824)
        return (try AWSChunkedExample.verifier.verify(AWSChunkedExample.request), body)
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

/// Hostile aws-chunked bodies cannot grow the gateway's memory (issue 15).
@Suite struct AWSChunkedBoundsTests {
    @Test func trailersAreBoundedInNumberAndSize() throws {
        func body(_ trailers: [String]) -> [UInt8] {
            Array(("3\r\nabc\r\n0\r\n" + trailers.map { $0 + "\r\n" }.joined() + "\r\n").utf8)
        }
        var ok = AWSChunkedDecoder(mode: .unsigned)
        #expect(try ok.feed(body((0..<16).map { "x-amz-checksum-\($0): abc" })) == Array("abc".utf8))
        #expect(ok.isComplete && ok.trailers.count == 16)
        var many = AWSChunkedDecoder(mode: .unsigned)
        #expect(throws: AWSChunkedDecoder.Failure.self) { try many.feed(body((0..<17).map { "x-t-\($0): v" })) }
        var big = AWSChunkedDecoder(mode: .unsigned)
        let line = "x-big: " + String(repeating: "v", count: 4000)
        #expect(throws: AWSChunkedDecoder.Failure.self) { try big.feed(body(Array(repeating: line, count: 5))) }
    }

    @Test func theRequestMemoryBudgetIsSharedAndGivenBack() {
        let m = RequestMemory(limit: 100)
        #expect(m.reserve(60) && m.reserve(40))
        #expect(!m.reserve(1), "the budget is used up")
        m.release(40)
        #expect(m.reserve(30) && m.inUse == 90)
        m.release(1000)
        #expect(m.inUse == 0)
    }
}
