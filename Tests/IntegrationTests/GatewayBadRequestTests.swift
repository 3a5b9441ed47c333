import Crypto
import Daemon
import Foundation
import S3
import Testing
import TestSupport

/// Malformed and hostile S3 requests get a 4xx S3 error, store nothing, and the daemon keeps serving.
@Suite struct GatewayBadRequestTests {
    struct Env {
        let h: DaemonHarness
        let grant: GrantEnvelope
        var creds: S3Credentials { S3Credentials(accessKeyID: grant.accessKey, secretAccessKey: grant.secretKey) }

        /// Sends `method path` signed with `creds` (or unsigned) and returns status and body.
        func send(_ method: String, _ pathAndQuery: String, body: Data = Data(), headers: [(String, String)] = [],
                  payloadHash: String? = nil, creds: S3Credentials? = nil, region: String = "us-east-1", service: String = "s3",
                  date: Date = Date(), signed: Bool = true) throws -> HTTPResponse {
            let url = URL(string: h.gatewayURL + pathAndQuery)!
            var all = headers
            if signed {
                all += SigV4.sign(method: method, url: url, headers: headers, payloadHash: payloadHash ?? SigV4.sha256Hex(body),
                                  credentials: creds ?? self.creds, region: region, service: service, date: date)
            }
            return try CurlHTTP.perform(HTTPRequest(method: method, url: url.absoluteString, headers: all, body: body.isEmpty ? nil : body, timeout: 20))
        }

        func code(_ r: HTTPResponse) -> String {
            guard let a = r.text.range(of: "<Code>"), let b = r.text.range(of: "</Code>") else { return "-" }
            return String(r.text[a.upperBound..<b.lowerBound])
        }

        func keys() throws -> [String] { try h.engineClient().listAll(bucket: "b0x").objects.map(\.key) }
    }

    @Test func malformedRequestsGetS3ErrorsStoreNothingAndTheDaemonKeepsServing() throws {
        let h = try DaemonHarness(name: "gwbad")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("b0x")
        let e = Env(h: h, grant: try h.mintGrant("b0x"))
        func expect(_ r: HTTPResponse, _ status: Int, _ code: String, _ note: Comment) {
            #expect(r.status == status && e.code(r) == code, "\(note): \(r.status) \(r.text)")
        }
        expect(try e.send("GET", "/b0x?list-type=2", signed: false), 403, "AccessDenied", "unsigned")
        expect(try e.send("GET", "/b0x?list-type=2", creds: S3Credentials(accessKeyID: e.grant.accessKey, secretAccessKey: "wrong")),
               403, "SignatureDoesNotMatch", "wrong secret")
        expect(try e.send("GET", "/b0x?list-type=2", creds: S3Credentials(accessKeyID: "GKnobody00000000000000000", secretAccessKey: "x")),
               403, "InvalidAccessKeyId", "unknown key")
        expect(try e.send("GET", "/b0x?list-type=2", date: Date().addingTimeInterval(-20 * 60)), 403, "RequestTimeTooSkewed", "skewed clock")
        expect(try e.send("GET", "/b0x?list-type=2", region: "eu-west-1"), 400, "AuthorizationHeaderMalformed", "wrong region")
        expect(try e.send("GET", "/b0x?list-type=2", service: "iam"), 400, "AuthorizationHeaderMalformed", "wrong service")
        expect(try e.send("GET", "/b0x?list-type=2&list-type=2"), 400, "InvalidArgument", "duplicate query parameter")
        expect(try e.send("PUT", "/b0x/a/%2E%2E/x", body: Data("x".utf8)), 400, "InvalidURI", "'..' segment")
        expect(try e.send("PUT", "/b0x/a%00b", body: Data("x".utf8)), 400, "InvalidURI", "NUL in key")
        expect(try e.send("PUT", "/b0x/%FF%FE", body: Data("x".utf8)), 400, "InvalidURI", "invalid UTF-8")
        expect(try e.send("GET", "/b0x/a?acl"), 501, "NotImplemented", "unsupported operation")
        expect(try e.send("GET", "/b0x?list-type=2", headers: [("X-Big", String(repeating: "a", count: 20_000))], signed: false),
               400, "InvalidRequest", "oversized header")
        // A declared SHA-256 that is not the body's: refused, nothing stored.
        expect(try e.send("PUT", "/b0x/hash", body: Data("the real body".utf8), payloadHash: SigV4.sha256Hex(Data("another body".utf8))),
               400, "XAmzContentSHA256Mismatch", "payload hash mismatch")

        // aws-chunked with per-chunk signatures: a whole body is stored, a cut one is not.
        let data = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let whole = try e.sendChunked("/b0x/chunked", data: data, chunk: 64 << 10, cutFinal: false)
        #expect(whole.status == 200, "\(whole.text)")
        #expect(try h.engineClient().get(bucket: "b0x", key: "chunked") == data)
        expect(try e.sendChunked("/b0x/cut", data: data, chunk: 64 << 10, cutFinal: true), 400, "IncompleteBody", "truncated aws-chunked body")
        expect(try e.sendChunked("/b0x/forged", data: data, chunk: 64 << 10, cutFinal: false, forge: true), 403, "SignatureDoesNotMatch", "forged chunk")
        let stored = try e.keys()
        #expect(stored == ["chunked"], "\(stored)")

        // A single PUT larger than the gateway keeps in memory streams through, checked the same
        // way: a failing one leaves the previous version of the key as it was.
        let big = Data((0..<(12 << 20)).map { UInt8(truncatingIfNeeded: $0 >> 10) })
        #expect(try e.send("PUT", "/b0x/big", body: big).status == 200)
        var other = big
        other[5] = 0xFF
        expect(try e.send("PUT", "/b0x/big", body: other, payloadHash: SigV4.sha256Hex(big)), 400, "XAmzContentSHA256Mismatch", "big payload hash mismatch")
        #expect(try h.engineClient().get(bucket: "b0x", key: "big") == big)
        // A client that dies mid-body (after 0 bytes, and after 1 MiB of 12): still the old version.
        for sent in [0, 1 << 20] {
            let cut = try h.boto3(e.grant, """
                import socket
                from botocore.awsrequest import AWSRequest
                from botocore.auth import S3SigV4Auth
                req = AWSRequest(method='PUT', url='\(h.gatewayURL)/b0x/big', headers={'x-amz-content-sha256': 'UNSIGNED-PAYLOAD'})
                S3SigV4Auth(s3._request_signer._credentials, 's3', 'us-east-1').add_auth(req)
                head = 'PUT /b0x/big HTTP/1.1\\r\\n' + ''.join('%s: %s\\r\\n' % kv for kv in req.headers.items()) + 'Content-Length: %d\\r\\n\\r\\n' % (12 << 20)
                c = socket.create_connection(('127.0.0.1', \(h.config.gatewayPort)))
                c.sendall(head.encode() + b'z' * \(sent))
                c.close()
                print('cut')
                """)
            #expect(cut.stdout.contains("cut"), "\(cut.stderr)")
        }
        #expect(eventually(timeout: 2) { (try? e.send("GET", "/b0x?list-type=2"))?.status == 200 })
        #expect(try h.engineClient().get(bucket: "b0x", key: "big") == big)

        // Still serving.
        #expect(try e.send("PUT", "/b0x/fine", body: Data("fine".utf8)).status == 200)
        #expect(try e.send("GET", "/b0x/fine").text == "fine")
    }
}

extension GatewayBadRequestTests.Env {
    /// A PUT with a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` body, as SDKs send over https; `cutFinal`
    /// leaves out the final chunk, `forge` corrupts the first chunk's signature.
    func sendChunked(_ path: String, data: Data, chunk: Int, cutFinal: Bool, forge: Bool = false) throws -> HTTPResponse {
        let url = URL(string: h.gatewayURL + path)!
        var pieces: [Data] = stride(from: 0, to: data.count, by: chunk).map { data.subdata(in: $0..<min($0 + chunk, data.count)) }
        pieces.append(Data())
        func frame(_ bodyLen: Int) -> [(String, String)] {
            [("Content-Encoding", "aws-chunked"), ("x-amz-decoded-content-length", "\(data.count)"), ("Content-Length", "\(bodyLen)")]
        }
        // The framed length does not depend on the signatures (64 hex each), so sign once with it.
        let framedLength = pieces.reduce(0) { $0 + String($1.count, radix: 16).utf8.count + 17 + 64 + 2 + $1.count + 2 }
            - (cutFinal ? (1 + 17 + 64 + 2 + 2) : 0)
        let headers = frame(framedLength)
        let auth = SigV4.sign(method: "PUT", url: url, headers: headers, payloadHash: SigV4Verifier.streamingPayload, credentials: creds)
        let all = headers + auth
        let signed = SignedRequest(method: "PUT", rawPath: path, rawQuery: "", headers: [("host", "127.0.0.1:\(h.config.gatewayPort)")] + all)
        let verified = try SigV4Verifier(secret: { _ in grant.secretKey }).verify(signed)
        var body = Data(), previous = verified.signature
        for (i, piece) in pieces.enumerated() {
            if cutFinal && i == pieces.count - 1 { break }
            var sig = SigV4Verifier.chunkSignature(previous: previous, chunk: piece, verified: verified)
            previous = sig
            if forge && i == 0 { sig = String(repeating: "0", count: 64) }
            body += Data("\(String(piece.count, radix: 16));chunk-signature=\(sig)\r\n".utf8) + piece + Data("\r\n".utf8)
        }
        precondition(body.count == framedLength)
        return try CurlHTTP.perform(HTTPRequest(method: "PUT", url: url.absoluteString, headers: all, body: body, timeout: 20))
    }
}
