import Foundation
import Testing
import TestSupport

/// The audit record survives a flood of junk requests and is queryable (issue 15).
@Suite struct AuditTests {
    @Test func aFloodOfJunkRequestsCannotPushOutTheRecordOfMintsAndRevokes() throws {
        let h = try DaemonHarness(name: "audit")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("audited")
        let g = try h.mintGrant("audited")
        #expect(try h.run(["bucket", "revoke", g.grantID]).status == 0)
        // 3000 unauthenticated requests: anonymous, an unknown key, a bad signature.
        let flood = try DaemonHarness.runProcess("/usr/bin/env", ["python3", "-c", """
            import http.client, sys
            c = http.client.HTTPConnection('127.0.0.1', int(sys.argv[1]))
            codes = set()
            for i in range(3000):
                h = {} if i % 3 == 0 else {'Authorization': 'AWS4-HMAC-SHA256 Credential=GTNOPE%d/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00' % i}
                c.request('GET', '/audited/junk-%d' % i, headers=h)
                r = c.getresponse(); r.read(); codes.add(r.status)
            print(sorted(codes))
            """, "\(h.config.gatewayPort)"], env: ProcessInfo.processInfo.environment, timeout: 120)
        #expect(flood.stdout.contains("403"), "\(flood.stdout) \(flood.stderr)")
        let file = try String(contentsOfFile: h.paths.auditLog, encoding: .utf8)
        #expect(file.split(separator: "\n").count < 50, "one line per refused junk request")
        #expect(!file.contains("junk-"))
        // The record, from the state DB.
        let r = try h.run(["audit", "--since", "1h", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let events = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]], "\(r.stdout)")
        let names = events.compactMap { $0["event"] as? String }
        #expect(names.contains("bucket_created") && names.contains("grant_minted") && names.contains("grant_revoked"), "\(names)")
        let revoked = try h.run(["audit", "--event", "grant_revoked"])
        #expect(revoked.status == 0 && revoked.stdout.contains(g.grantID), "\(revoked.stdout)")
        #expect(!r.stdout.contains(g.secretKey))
        // The junk is counted once a minute per source (the janitor writes the minute when it ends).
        #expect(eventually(timeout: 75, every: 1) {
            ((try? h.run(["audit", "--event", "unauthenticated_refused", "--json"]))?.stdout ?? "").contains("\"count\" : \"3000\"")
        })
        let bad = try h.run(["audit", "--since", "yesterday"])
        #expect(bad.status != 0 && bad.stderr.contains("--since"), "\(bad.stderr)")
    }
}
