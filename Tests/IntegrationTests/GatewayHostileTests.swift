import Daemon
import Foundation
import S3
import Testing
import TestSupport

/// Hostile clients of the front door: slowloris connections, replayed and altered signatures,
/// presigned URLs with a longer expiry written in, bodies beyond S3's limits, hostile keys. Each
/// gets a clear 4xx (or is cut off), nothing is stored, and the daemon keeps serving.
@Suite struct GatewayHostileTests {
    typealias Env = GatewayBadRequestTests.Env

    @Test func slowClientsAreCutOffAndTheConnectionCapKeepsTheDoorForOthers() throws {
        let h = try DaemonHarness(name: "slow") {
            $0.gateway.maxConnections = 8
            $0.gateway.headerTimeoutSeconds = 1.5
            // Far beyond the header deadline: Hummingbird's idle timer counts only decoded request
            // parts, so a half-sent head is "idle" too — a close before 10 s is the header deadline's.
            $0.gateway.idleTimeoutSeconds = 10
        }
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        let port = h.config.gatewayPort
        // Eight slowloris connections take every slot: half a request head, then a header now and then.
        let fds = "/proc/\(try h.daemonPID())/fd"
        let sockets = { (try? FileManager.default.contentsOfDirectory(atPath: fds))?
            .filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: fds + "/" + $0))?.hasPrefix("socket:") == true }.count ?? 0 }
        let idleSockets = sockets()
        let slow = try (0..<8).map { _ in try RawConnection(port: port) }
        for c in slow { c.send("GET /b0x?list-type=2 HTTP/1.1\r\nHost: 127.0.0.1\r\n") }
        let opened = Date()
        // The daemon has accepted them (it accepts in batches): its process holds eight more sockets.
        #expect(eventually(timeout: 10) { sockets() >= idleSockets + 8 })
        // A ninth client with a whole request waits in the listen queue ...
        let queued = try RawConnection(port: port)
        queued.send("GET / HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\r\n")
        #expect(queued.receive(timeout: 0.7).text.isEmpty)
        // ... the slow ones are closed at the header deadline (1.5 s) although they keep sending, a
        // header every 0.2 s, and well before the idle timeout (10 s) could have closed them ...
        var open = slow
        var closedAfter: [TimeInterval] = []
        var round = 0
        while !open.isEmpty && Date().timeIntervalSince(opened) < 20 {
            round += 1
            open = open.filter { c in
                let alive = c.send("X-Slow-\(round): 1\r\n") && !c.receive(timeout: 0.2 / Double(open.count)).closed
                if !alive { closedAfter.append(Date().timeIntervalSince(opened)) }
                return alive
            }
        }
        #expect(open.isEmpty, "\(open.count) slow connections still open after \(round) headers each")
        let first = closedAfter.min() ?? 0, last = closedAfter.max() ?? .infinity
        #expect(first >= 1.4, "a slow connection closed after \(first) s: before the header deadline")
        #expect(last < 9, "the last slow connection closed after \(last) s: that is the idle timeout, not the header deadline")
        // ... and the ninth is served (unsigned: refused with an S3 error, as it should be).
        let answer = queued.receive(timeout: 10).text
        #expect(answer.hasPrefix("HTTP/1.1 403") && answer.contains("<Code>AccessDenied</Code>"), "\(answer.prefix(300))")
        // A connection left idle after its request is closed at the idle timeout.
        #expect(queued.receive(timeout: 20).closed)
        #expect(try CurlHTTP.perform(HTTPRequest(method: "GET", url: h.gatewayURL + "/", timeout: 5)).status == 403)
    }

    @Test func replayedTamperedAndOversizedRequestsAreRefusedAndStoreNothing() throws {
        let h = try DaemonHarness(name: "hostile")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("b0x")
        let e = Env(h: h, grant: try h.mintGrant("b0x"))
        let engine = try h.engineClient()

        // A captured signed PUT: replayed as is it does the same thing again (S3's rule inside the
        // 15-minute window); replayed on another key, with another body or after a revoke, refused.
        let url = URL(string: h.gatewayURL + "/b0x/a")!
        let one = Data("one".utf8)
        let signed = SigV4.sign(method: "PUT", url: url, headers: [], payloadHash: SigV4.sha256Hex(one), credentials: e.creds)
        func replay(_ target: String, _ body: Data) throws -> HTTPResponse {
            try CurlHTTP.perform(HTTPRequest(method: "PUT", url: h.gatewayURL + target, headers: signed, body: body, timeout: 20))
        }
        #expect(try replay("/b0x/a", one).status == 200)
        #expect(try replay("/b0x/a", one).status == 200)
        let otherKey = try replay("/b0x/b", one)
        #expect(otherKey.status == 403 && e.code(otherKey) == "SignatureDoesNotMatch")
        let otherBody = try replay("/b0x/a", Data("two".utf8))
        #expect(otherBody.status == 400 && e.code(otherBody) == "XAmzContentSHA256Mismatch", "\(otherBody.text)")
        #expect(try engine.get(bucket: "b0x", key: "a") == one)
        #expect((try? engine.head(bucket: "b0x", key: "b")) == nil)

        // Presigned URLs (SigV4 and the SigV2 form aws-cli and boto3 make by default) with a longer
        // expiry written in: refused; as issued, they work.
        let urls = try h.boto3(e.grant, """
            v2 = boto3.client('s3', endpoint_url='\(h.gatewayURL)', config=Config(s3={'addressing_style': 'path'}))
            print(s3.generate_presigned_url('get_object', Params={'Bucket': 'b0x', 'Key': 'a'}, ExpiresIn=60))
            print(v2.generate_presigned_url('get_object', Params={'Bucket': 'b0x', 'Key': 'a'}, ExpiresIn=60))
            """)
        let lines = urls.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 2, "\(urls.stderr)")
        let (v4, v2) = (lines[0], lines[1])
        #expect(v4.contains("X-Amz-Expires=60") && v2.contains("Expires="))
        #expect(DaemonHarness.fetch(v4).body == "one" && DaemonHarness.fetch(v2).body == "one")
        #expect(DaemonHarness.fetch(v4.replacingOccurrences(of: "X-Amz-Expires=60", with: "X-Amz-Expires=604800")).status == 403)
        let later = try #require(v2.range(of: #"Expires=\d+"#, options: .regularExpression))
        let v2Later = v2.replacingCharacters(in: later, with: "Expires=\(Int(Date().timeIntervalSince1970) + 86_400)")
        #expect(DaemonHarness.fetch(v2Later).status == 403)

        // A body beyond S3's 5 GiB limit for one PUT is refused before it is read.
        let huge = try e.send("PUT", "/b0x/huge", headers: [("Content-Length", "6442450944")], payloadHash: SigV4.unsignedPayload)
        #expect(huge.status == 400 && e.code(huge) == "EntityTooLarge", "\(huge.status) \(huge.text)")
        // Hostile keys: a NUL, an empty segment, more than 1024 bytes. (Control characters are
        // keys like any other: S3 allows every character but NUL.)
        for (path, code) in [("/b0x/a%00b", "InvalidURI"), ("/b0x/a//b", "InvalidURI"),
                             ("/b0x/" + String(repeating: "k", count: 1025), "KeyTooLongError")] {
            let r = try e.send("PUT", path, body: Data("x".utf8))
            #expect(r.status == 400 && e.code(r) == code, "\(path.prefix(40)): \(r.status) \(r.text)")
        }
        for path in ["/b0x/a%0Ab", "/b0x/tab%09"] {
            #expect(try e.send("PUT", path, body: Data("x".utf8)).status == 200, "\(path)")
            #expect(try e.send("DELETE", path).status == 204, "\(path)")
        }
        #expect(try e.keys() == ["a"])

        // Revoked: the captured request is refused too; the daemon keeps serving others.
        #expect(try h.run(["bucket", "revoke", e.grant.grantID]).status == 0)
        let afterRevoke = try replay("/b0x/a", one)
        #expect(afterRevoke.status == 403 && e.code(afterRevoke) == "AccessDenied")
        let fresh = Env(h: h, grant: try h.mintGrant("b0x"))
        #expect(try fresh.send("GET", "/b0x/a").text == "one")
    }
}
