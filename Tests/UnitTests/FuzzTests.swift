import Daemon
import Foundation
import S3
import Testing
import TestSupport

/// Seeded fuzzing of what parses untrusted bytes at the front door: the SigV4 verifier, the request
/// splitter and the aws-chunked decoder. Every input must end in an accepted request or a typed
/// refusal — never a trap — and a mutation of something signed must never verify. Reproducible:
/// GT_FUZZ_SEED picks the seed, GT_FUZZ_ITERATIONS the length (longer runs by hand).
@Suite struct FuzzTests {
    static let env = ProcessInfo.processInfo.environment
    static let seed = UInt64(env["GT_FUZZ_SEED"] ?? "") ?? 0x6761_7261_6765
    static let iterations = Int(env["GT_FUZZ_ITERATIONS"] ?? "") ?? 4000

    typealias Seeded = SplitMix64

    static let ak = "AKIAIOSFODNN7EXAMPLE", sk = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    static let t0 = UTCTime.parseISO8601("2013-05-24T00:00:00Z")!
    static let verifier = SigV4Verifier(secret: { $0 == ak ? sk : nil }, now: { t0 })
    /// AWS's documented GetObject example: it verifies as given.
    static let valid = SignedRequest(method: "GET", rawPath: "/test.txt", rawQuery: "", headers: [
        ("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9"),
        ("x-amz-content-sha256", SigV4.emptySHA256), ("x-amz-date", "20130524T000000Z"),
        ("Authorization", "AWS4-HMAC-SHA256 Credential=\(ak)/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
    ])

    static func mutate(_ s: String, _ g: inout Seeded) -> String {
        var bytes = Array(s.utf8)
        let junk: [UInt8] = Array(" ,;=/%\u{0}\r\n\t\u{7f}AZaz09-_.".utf8) + [0xC3, 0xFF, 0x80]
        switch Int.random(in: 0..<7, using: &g) {
        case 0 where !bytes.isEmpty: bytes[Int.random(in: 0..<bytes.count, using: &g)] = junk.randomElement(using: &g)!
        case 1 where !bytes.isEmpty: bytes.removeSubrange(Int.random(in: 0..<bytes.count, using: &g)...)
        case 2: bytes.insert(contentsOf: (0..<Int.random(in: 1...8, using: &g)).map { _ in junk.randomElement(using: &g)! },
                             at: Int.random(in: 0...bytes.count, using: &g))
        case 3: bytes += Array(String(repeating: "a", count: Int.random(in: 1_000...70_000, using: &g)).utf8)
        case 4 where !bytes.isEmpty: bytes[Int.random(in: 0..<bytes.count, using: &g)] = UInt8.random(in: 0...255, using: &g)
        case 5: bytes = (0..<Int.random(in: 0...64, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
        default: bytes.reverse()
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Headers as a sorted list with spaces and tabs left out: the same request to a verifier
    /// (header order is free, and whitespace around values and fields is trimmed, as AWS does).
    static func normalized(_ headers: [(String, String)]) -> [String] {
        headers.map { "\($0.0):\($0.1)".filter { $0 != " " && $0 != "\t" } }.sorted()
    }

    @Test func everyMutationOfASignedRequestIsRefusedWithATypedRejection() {
        #expect((try? Self.verifier.verify(Self.valid)) != nil)
        var g = Seeded(state: Self.seed)
        var accepted: [String] = []
        for _ in 0..<Self.iterations {
            var r = Self.valid
            for _ in 0..<Int.random(in: 1...3, using: &g) {
                switch Int.random(in: 0..<8, using: &g) {
                case 0: r.rawPath = Self.mutate(r.rawPath, &g)
                case 1: r.rawQuery = Self.mutate(r.rawQuery, &g)
                case 2: r.method = Self.mutate(r.method, &g)
                case 3: r.headers.append(r.headers.randomElement(using: &g)!)  // a header given twice
                case 4: r.headers.remove(at: Int.random(in: 0..<r.headers.count, using: &g))
                default:
                    let i = Int.random(in: 0..<r.headers.count, using: &g)
                    r.headers[i].1 = Self.mutate(r.headers[i].1, &g)
                }
                if r.headers.isEmpty { break }
            }
            let same = r.method == Self.valid.method && r.rawPath == Self.valid.rawPath && r.rawQuery == Self.valid.rawQuery
                && Self.normalized(r.headers) == Self.normalized(Self.valid.headers)
            do {
                _ = try Self.verifier.verify(r)
                if !same { accepted.append("\(r.method) \(r.rawPath.prefix(80))?\(r.rawQuery.prefix(80)) \(r.headers.map { "\($0.0)=\($0.1.prefix(120).debugDescription)" })") }
            } catch is SigV4Rejection {
            } catch {
                Issue.record("not a SigV4Rejection: \(error)")
            }
        }
        #expect(accepted.isEmpty, "seed \(Self.seed): mutated requests verified: \(accepted.prefix(3))")
    }

    @Test func randomRequestTargetsAreSplitOrRefusedNeverTrapped() {
        var g = Seeded(state: Self.seed &+ 1)
        let seeds = ["/b/k", "/b/a%20b/c?list-type=2&prefix=x%2F", "/b/dir/", "/b?uploads", "/b/k?partNumber=1&uploadId=u"]
        for _ in 0..<Self.iterations {
            var uri = seeds.randomElement(using: &g)!
            for _ in 0..<Int.random(in: 1...4, using: &g) { uri = Self.mutate(uri, &g) }
            do {
                let r = try GatewayRequest(method: "GET", uri: uri, headers: [])
                // What passes is what the rest of the gateway may rely on.
                let key = r.path.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).dropFirst().first.map {
                    $0.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).dropFirst().first.map(String.init) ?? ""
                } ?? ""
                #expect(r.path.hasPrefix("/") && !r.path.utf8.contains(0) && key.utf8.count <= 1024, "\(uri.debugDescription)")
                #expect(!key.split(separator: "/", omittingEmptySubsequences: false).contains { $0 == "." || $0 == ".." }, "\(uri.debugDescription)")
            } catch is GatewayRequest.Refusal {
            } catch {
                Issue.record("not a Refusal: \(error)")
            }
        }
    }

    @Test func mutatedChunkedBodiesReleaseOnlyVerifiedBytes() throws {
        let v = try AWSChunkedExample.verifier.verify(AWSChunkedExample.request)
        let body = AWSChunkedExample.body

        var g = Seeded(state: Self.seed &+ 2)
        for _ in 0..<(Self.iterations / 8) {
            var b = body
            for _ in 0..<Int.random(in: 1...3, using: &g) {
                let at = Int.random(in: 0..<b.count, using: &g)
                switch Int.random(in: 0..<4, using: &g) {
                case 0: b[at] ^= UInt8.random(in: 1...255, using: &g)
                case 1: b.removeSubrange(at..<min(b.count, at + Int.random(in: 1...200, using: &g)))
                case 2: b.insert(contentsOf: Array("ffffffff;chunk-signature=\r\n".utf8), at: at)
                default: b.removeSubrange(at...)
                }
                if b.isEmpty { break }
            }
            let mode: AWSChunkedDecoder.Mode = Bool.random(using: &g) ? .signed(v) : .unsigned
            var d = AWSChunkedDecoder(mode: mode, maxChunk: 1 << 20)
            var out: [UInt8] = []
            var i = 0
            do {
                while i < b.count {
                    let step = Int.random(in: 1...9000, using: &g)
                    out += try d.feed(b[i..<min(b.count, i + step)])
                    i += step
                }
                try d.finish()
                if case .signed = mode {
                    // A finished signed body is the original, whole.
                    #expect(out.count == 66560 && out.allSatisfy { $0 == UInt8(ascii: "a") })
                }
            } catch is AWSChunkedDecoder.Failure {
            }
            if case .signed = mode {
                #expect(out.count <= 66560 && out.allSatisfy { $0 == UInt8(ascii: "a") }, "unverified bytes released")
            }
        }
    }
}
