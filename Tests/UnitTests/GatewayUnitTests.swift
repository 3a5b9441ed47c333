@testable import Daemon
import Foundation
import S3
import Synchronization
import Testing

/// The front door's pure parts: request checks, SigV2 presigned URLs, grant grammar, the
/// registry's limits and revoke states (injected clock), quota admission, audit lines.
@Suite struct GatewayUnitTests {
    @Test func requestsAreSplitAndHostileOnesRefused() throws {
        let ok = try GatewayRequest(method: "GET", uri: "/b/a%20b/c.txt?list-type=2&X-Amz-Signature=abc&prefix=x%2Fy", headers: [])
        #expect(ok.path == "/b/a b/c.txt")
        #expect(ok.query["prefix"] == "x/y")
        #expect(ok.forwardQuery == "list-type=2&prefix=x%2Fy")  // signature parameters never reach the engine
        func refused(_ uri: String) -> String? {
            do { _ = try GatewayRequest(method: "GET", uri: uri, headers: []); return nil } catch let r as GatewayRequest.Refusal { return r.code } catch { return "?" }
        }
        #expect(refused("/b/a/%2E%2E/etc") == "InvalidURI")
        #expect(refused("/b/a%00") == "InvalidURI")
        #expect(refused("/b/a%0Ab") == nil && refused("/b/a%7F") == nil)  // keys hold any character but NUL
        #expect(refused("/b/a//b") == "InvalidURI")
        #expect(refused("/b//a") == "InvalidURI")
        #expect(refused("/b/dir/") == nil)  // a directory marker
        #expect(refused("/b/%C3%28") == "InvalidURI")
        #expect(refused("/b/" + String(repeating: "k", count: 1025)) == "KeyTooLongError")
        #expect(refused("/b?prefix=a&prefix=b") == "InvalidArgument")
        #expect(refused("http://evil/b") == "InvalidURI")
        #expect(refused("/b/" + String(repeating: "k", count: 1024)) == nil)
    }

    @Test func sigV2PresignedURLsFromBotocoreVerify() throws {
        // Produced by boto3 1.43 generate_presigned_url (default signer for a custom endpoint) at t=1795000000.
        let query = "response-content-type=text%2Fplain&AWSAccessKeyId=GKexample&Signature=IY1dzncYWAxE9Pgno%2FwBky4e7HE%3D&Expires=1795003600"
        let path = "/photos/a%20b/c%2Bd.txt"
        let at = Date(timeIntervalSince1970: 1_795_000_000)
        let verifier = SigV4Verifier(secret: { $0 == "GKexample" ? "secretexample" : nil }, now: { at })
        let v = try verifier.verify(SignedRequest(method: "GET", rawPath: path, rawQuery: query, headers: [("host", "127.0.0.1:3900")]))
        #expect(v.accessKeyID == "GKexample" && v.presigned && v.scope.isEmpty)
        func code(_ q: String, method: String = "GET", now: Date = at) -> String? {
            let ver = SigV4Verifier(secret: { $0 == "GKexample" ? "secretexample" : nil }, now: { now })
            do { _ = try ver.verify(SignedRequest(method: method, rawPath: path, rawQuery: q, headers: [])); return nil }
            catch let r as SigV4Rejection { return r.code } catch { return "?" }
        }
        #expect(code(query, method: "PUT") == "SignatureDoesNotMatch")
        #expect(code(query.replacingOccurrences(of: "text%2Fplain", with: "text%2Fhtml")) == "SignatureDoesNotMatch")
        #expect(code(query, now: at.addingTimeInterval(3601)) == "AccessDenied")  // expired
        #expect(code(query.replacingOccurrences(of: "GKexample", with: "GKother")) == "InvalidAccessKeyId")
    }

    @Test func grantGrammarIsExact() throws {
        let g = try GrantSpec(bucket: "photos", label: "resizer", perms: "read,write", ttl: "1h")
        #expect(g.permissions == [.read, .write] && g.ttlSeconds == 3600)
        for (perms, ttl, label) in [("read,exec", "1h", "a"), ("read,,write", "1h", "a"), ("read,read", "1h", "a"), ("", "1h", "a"),
                                    ("read", "permanent", "a"), ("read", "60m", "a"), ("read", "1d", "a"), ("read", "1h", ""),
                                    ("read", "1h", "tab\there")] {
            #expect(throws: DaemonError.self, "\(perms) \(ttl) \(label)") { try GrantSpec(bucket: "photos", label: label, perms: perms, ttl: ttl) }
        }
    }

    @Test func registryLimitsRevokeStatesAndExpiryWithAnInjectedClock() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gt-reg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let clock = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        let registry = try Registry(store: StateStore(path: dir + "/state.db"), limits: .init(maxActiveGrants: 2, maxMintsPerHour: 3),
                                    now: { clock.withLock { $0 } })
        _ = try registry.insertBucket(try BucketSpec(name: "photos", ttl: "1h", quota: "1G", confirmed: false))
        let spec = try GrantSpec(bucket: "photos", label: "a", perms: "read", ttl: "30m")
        let a = try registry.mint(spec), b = try registry.mint(spec)
        #expect(a.id.hasPrefix("g_20270115_") && a.accessKey.hasPrefix("GK") && a.secretKey.count == 64)
        let twoActive = #expect(throws: DaemonError.self) { try registry.mint(spec) }
        #expect(twoActive?.message.contains("at most 2 active grants") == true, "\(twoActive?.message ?? "")")
        #expect(registry.grant(accessKey: a.accessKey)?.state == .active)
        _ = try registry.beginRevoke(a.id)
        #expect(registry.grant(accessKey: a.accessKey)?.state == .revoking)  // refused from here on
        try registry.finishRevoke(a.id, cleanedUp: true)
        #expect(registry.grant(accessKey: a.accessKey)?.secretKey == "")  // the secret is erased
        #expect(throws: DaemonError.self) { try registry.beginRevoke(a.id) }  // twice
        let c = try registry.mint(spec)  // room again: one revoked (3 mints this hour)
        // With a slot free again (c revoked), the fourth mint within the hour meets the hourly limit.
        _ = try registry.beginRevoke(c.id)
        try registry.finishRevoke(c.id, cleanedUp: true)
        let hourly = #expect(throws: DaemonError.self) { try registry.mint(spec) }
        #expect(hourly?.message.contains("at most 3 grant creations per hour") == true, "\(hourly?.message ?? "")")
        // Expiry frees the active slots; the hourly limit frees an hour after the oldest mint.
        clock.withLock { $0 = $0.addingTimeInterval(3601) }
        #expect(Policy.decide(S3Operation(kind: .getObject, bucket: "photos", key: "k"), caller: .grant(b.view),
                              bucket: registry.bucket("photos")?.view, readOnly: (false, nil), now: clock.withLock { $0 }) != .allow)
        _ = try registry.mint(spec)
    }

    @Test func quotaAdmissionCountsInFlightUploads() throws {
        let usage = UsageTracker()
        usage.scanned(bucket: "b", usage: BucketUsage(bytes: 600, objects: 1), storedBefore: 0)
        let r1 = try usage.admit(bucket: "b", bytes: 300, quota: 1000)
        #expect(throws: UsageTracker.Refusal.self) { try usage.admit(bucket: "b", bytes: 200, quota: 1000) }  // 600 + 300 in flight + 200
        usage.settle(bucket: "b", bytes: r1, stored: false)
        let r2 = try usage.admit(bucket: "b", bytes: 400, quota: 1000)
        usage.settle(bucket: "b", bytes: r2, stored: true)
        #expect(usage.usage(bucket: "b").bytes == 1000)
        #expect(throws: UsageTracker.Refusal.self) { try usage.admit(bucket: "b", bytes: 1, quota: 1000) }
        _ = try usage.admit(bucket: "b", bytes: 1 << 40, quota: nil)  // unlimited
    }

    @Test func auditLinesAreJSONWithoutControlCharactersAndCutWhenLong() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gt-audit-\(UUID().uuidString)").path
        defer { unlink(path); unlink(path + ".1") }
        let audit = AuditLog(path: path, maxBytes: 2000)
        audit.record("request_refused", [("path", "/b/a\u{1b}[31m\nred\"q"), ("why", String(repeating: "x", count: 400))])
        let line = try String(contentsOfFile: path, encoding: .utf8)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(obj["path"] == "/b/a[31mred\"q")
        #expect(obj["why"]?.count == 256 && obj["why"]?.hasSuffix("…") == true)
        for _ in 0..<40 { audit.record("x", [("k", "v")]) }
        #expect(FileManager.default.fileExists(atPath: path + ".1"))  // rotated by size
    }
}

/// An audit trail that cannot be flushed (issue 15).
@Suite struct AuditRecordTests {
    final class Clock: @unchecked Sendable {
        // SAFETY: the test advances it between calls on one thread.
        var t = Date(timeIntervalSince1970: 2_000_000_000)
    }

    @Test func unauthenticatedRefusalsAreCountedPerSourceAndLifecycleEventsKeptInTheDB() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gt-auditdb-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let clock = Clock()
        let store = try StateStore(path: dir + "/state.db")
        let audit = AuditLog(path: dir + "/audit.jsonl", maxBytes: 4000, store: store, now: { clock.t })
        audit.record("grant_minted", [("grant_id", "g_1"), ("bucket", "b")])
        for i in 0..<5000 { audit.countRefusal(source: i % 2 == 0 ? "127.0.0.1" : "127.0.0.2", reason: i % 5 == 0 ? "unknown_key" : "bad_signature") }
        audit.record("grant_revoked", [("grant_id", "g_1")])
        let lines = { ((try? String(contentsOfFile: dir + "/audit.jsonl", encoding: .utf8)) ?? "").split(separator: "\n") }
        #expect(lines().count == 2, "nothing per refused request: \(lines().count) lines")
        audit.flushRefusals()
        #expect(lines().count == 2, "the minute is not over")
        clock.t += 61
        audit.flushRefusals()
        let counted = lines().compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }
            .filter { $0["event"] == "unauthenticated_refused" }
        #expect(counted.map { $0["source"] } == ["127.0.0.1", "127.0.0.2"])
        #expect(counted.map { $0["count"] } == ["2500", "2500"])
        #expect(counted.first?["reasons"] == "bad_signature=2000,unknown_key=500")
        // A flood that rotates the file away twice still leaves the DB's record.
        for _ in 0..<100 { audit.record("request_refused", [("why", String(repeating: "x", count: 200))]) }
        let kept = try store.auditEvents(since: .distantPast)
        #expect(kept.map(\.event) == ["grant_minted", "grant_revoked", "unauthenticated_refused", "unauthenticated_refused"])
        #expect(kept.first?.fields == ["grant_id": "g_1", "bucket": "b"])
        #expect(try store.auditEvents(since: clock.t.addingTimeInterval(-30)).map(\.event) == ["unauthenticated_refused", "unauthenticated_refused"])
        #expect(try store.auditEvents(since: .distantPast, event: "grant_revoked").count == 1)
    }
}
