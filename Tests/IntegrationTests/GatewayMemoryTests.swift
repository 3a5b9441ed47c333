import Daemon
import Foundation
import S3
import Testing
import TestSupport

/// Bounded memory under hostile grant holders (issue 15): many connections each holding a 16 MiB
/// aws-chunked chunk share one budget (the rest get 503 SlowDown and the daemon's memory stays
/// bounded); padded bodies and endless trailers are refused.
@Suite struct GatewayMemoryTests {
    /// Signed headers of an aws-chunked PUT: `decoded` payload bytes in a body of `raw` bytes.
    static func chunkedHead(_ h: DaemonHarness, _ g: GrantEnvelope, path: String, decoded: Int, raw: Int, trailer: Bool = false) -> String {
        let url = URL(string: h.gatewayURL + path)!
        var headers = [("Content-Encoding", "aws-chunked"), ("x-amz-decoded-content-length", "\(decoded)"), ("Content-Length", "\(raw)")]
        if trailer { headers.append(("x-amz-trailer", "x-amz-checksum-crc32")) }
        let auth = SigV4.sign(method: "PUT", url: url, headers: headers,
                              payloadHash: trailer ? "STREAMING-UNSIGNED-PAYLOAD-TRAILER" : SigV4Verifier.streamingPayload,
                              credentials: S3Credentials(accessKeyID: g.accessKey, secretAccessKey: g.secretKey))
        return "PUT \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(h.config.gatewayPort)\r\n"
            + (headers + auth).map { "\($0.0): \($0.1)\r\n" }.joined() + "\r\n"
    }

    @Test func manyConnectionsHoldingBigChunksShareOneBudget() throws {
        let h = try DaemonHarness(name: "gwmem")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("mem", quota: "10G")
        let g = try h.mintGrant("mem")
        let pid = try #require(Int32(try String(contentsOfFile: h.paths.pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        let chunk = 16 << 20, connections = 48
        let heads = (0..<connections).map { Self.chunkedHead(h, g, path: "/mem/held-\($0)", decoded: chunk, raw: chunk + 200) }
        let spec = try JSONSerialization.data(withJSONObject: ["port": h.config.gatewayPort, "heads": heads, "send": chunk - (1 << 20)])
        // Each connection sends its head, one chunk header of 16 MiB (signature not checked until
        // the chunk ends) and 15 MiB of it, then waits: without a shared budget the daemon would
        // hold 48 × 15 MiB.
        let r = try DaemonHarness.runProcess("/usr/bin/env", ["python3", "-c", """
            import json, socket, sys, time
            spec = json.loads(sys.argv[1])
            socks, statuses = [], []
            for head in spec['heads']:
                s = socket.create_connection(('127.0.0.1', spec['port'])); s.settimeout(20)
                try:
                    s.sendall(head.encode() + b'1000000;chunk-signature=' + b'0' * 64 + b'\\r\\n')
                    s.sendall(b'q' * spec['send'])
                except OSError:
                    pass
                socks.append(s)
            time.sleep(1)
            print(open('/proc/%d/status' % int(sys.argv[2])).read().split('VmHWM:')[1].split()[0], flush=True)
            for s in socks:
                s.settimeout(1)  # the refused ones answered at once; the others wait for their chunk
                try:
                    statuses.append(s.recv(200).split(b'\\r\\n')[0].decode())
                except OSError as e:
                    statuses.append('no answer: %s' % e)
            for s in socks: s.close()
            print(json.dumps(statuses))
            """, String(decoding: spec, as: UTF8.self), "\(pid)"], env: ProcessInfo.processInfo.environment, timeout: 180)
        let lines = r.stdout.split(separator: "\n")
        let peakKiB = try #require(lines.first.flatMap { Int($0) }, "\(r.stdout) \(r.stderr)")
        let statuses = try #require(lines.last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String] }, "\(r.stdout)")
        let slowDown = statuses.filter { $0.contains("503") }.count
        #expect(slowDown > 0, "every connection got its 16 MiB: \(statuses.prefix(5))")
        // 48 × 15 MiB = 720 MiB unbounded; the budget is 256 MiB.
        #expect(peakKiB < 480 << 10, "daemon peak RSS \(peakKiB >> 10) MiB")
        print("gateway memory: \(slowDown) of \(connections) connections refused with 503, daemon peak RSS \(peakKiB >> 10) MiB")
        // The daemon still serves, and every byte of the budget came back.
        let ok = try h.boto3(g, "s3.put_object(Bucket='mem', Key='after', Body=b'x' * (4 << 20)); print('ok')")
        #expect(ok.stdout.contains("ok"), "\(ok.stderr)")
        #expect(try h.engineClient().listAll(bucket: "mem").objects.map(\.key) == ["after"])
    }

    @Test func paddedBodiesAndEndlessTrailersAreRefused() throws {
        let h = try DaemonHarness(name: "gwpad")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("pad")
        let g = try h.mintGrant("pad")
        func send(_ head: String, _ body: String) throws -> String {
            let r = try DaemonHarness.runProcess("/usr/bin/env", ["python3", "-c", """
                import socket, sys
                s = socket.create_connection(('127.0.0.1', int(sys.argv[1]))); s.settimeout(20)
                try:
                    s.sendall(sys.argv[2].encode() + sys.argv[3].encode())
                except OSError:
                    pass
                print(s.recv(4096).decode('latin-1'))
                """, "\(h.config.gatewayPort)", head, body], env: ProcessInfo.processInfo.environment, timeout: 60)
            return r.stdout
        }
        // 1 payload byte in a declared 10 MB body: refused before a byte is read.
        let padded = try send(Self.chunkedHead(h, g, path: "/pad/a", decoded: 1, raw: 10_000_000), "")
        #expect(padded.hasPrefix("HTTP/1.1 400") && padded.contains("mostly framing"), "\(padded.prefix(300))")
        // Trailers without end: refused at the 17th.
        let trailers = (0..<40).map { "x-amz-meta-t\($0): \(String(repeating: "v", count: 100))\r\n" }.joined()
        let body = "1\r\nz\r\n0\r\n" + trailers + "\r\n"
        let endless = try send(Self.chunkedHead(h, g, path: "/pad/b", decoded: 1, raw: body.utf8.count, trailer: true), body)
        #expect(endless.hasPrefix("HTTP/1.1 400") && endless.contains("trailers"), "\(endless.prefix(300))")
        #expect(try h.engineClient().listAll(bucket: "pad").objects.isEmpty)
    }
}
