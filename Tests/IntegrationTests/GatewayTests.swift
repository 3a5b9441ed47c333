import Daemon
import Foundation
import S3
import Testing
import TestSupport

/// The S3 front door with real clients (aws-cli, boto3, curl) against a real daemon and engine.
@Suite struct GatewayTests {
    @Test func aGrantWorksWithAwsCliAndBoto3ForEveryOperationTheyUse() throws {
        let h = try DaemonHarness(name: "gw")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("work")
        try h.createBucket("other")
        let g = try h.mintGrant("work")

        // aws-cli: put, list, get, a multipart upload, a copy, delete.
        let small = h.home + "/small.txt", big = h.home + "/big.bin", back = h.home + "/back.bin"
        try "hello gateway\n".write(toFile: small, atomically: true, encoding: .utf8)
        var bytes = [UInt8](repeating: 0, count: 20 << 20)
        for i in stride(from: 0, to: bytes.count, by: 4096) { bytes[i] = UInt8(truncatingIfNeeded: i / 4096) }
        try Data(bytes).write(to: URL(fileURLWithPath: big))
        #expect(try h.aws(g, ["s3", "cp", small, "s3://work/dir/small.txt", "--only-show-errors"]).status == 0)
        #expect(try h.aws(g, ["s3", "cp", big, "s3://work/big.bin", "--only-show-errors"]).status == 0)  // 20 MiB: multipart
        #expect(try h.aws(g, ["s3", "cp", "s3://work/big.bin", back, "--only-show-errors"]).status == 0)
        #expect(FileManager.default.contentsEqual(atPath: big, andPath: back))
        #expect(try h.aws(g, ["s3", "cp", "s3://work/dir/small.txt", "-"]).stdout == "hello gateway\n")
        #expect(try h.aws(g, ["s3", "cp", "s3://work/dir/small.txt", "s3://work/copy.txt", "--only-show-errors"]).status == 0)
        let ls = try h.aws(g, ["s3", "ls", "s3://work/", "--recursive"])
        #expect(ls.stdout.contains("dir/small.txt") && ls.stdout.contains("big.bin") && ls.stdout.contains("copy.txt"), "\(ls.stdout)")
        #expect(try h.aws(g, ["s3", "rm", "s3://work/copy.txt", "--only-show-errors"]).status == 0)

        // boto3: the rest of the operations, each checked by what it returns.
        let r = try h.boto3(g, """
            out = {}
            out['buckets'] = [b['Name'] for b in s3.list_buckets()['Buckets']]
            s3.head_bucket(Bucket='work')
            out['location'] = s3.get_bucket_location(Bucket='work').get('LocationConstraint')
            for i in range(5): s3.put_object(Bucket='work', Key='page/%d' % i, Body=b'x' * i, Metadata={'k': 'v%d' % i})
            p1 = s3.list_objects_v2(Bucket='work', Prefix='page/', MaxKeys=2)
            p2 = s3.list_objects_v2(Bucket='work', Prefix='page/', MaxKeys=10, ContinuationToken=p1['NextContinuationToken'])
            out['v2'] = [o['Key'] for o in p1['Contents'] + p2['Contents']]
            v1 = s3.list_objects(Bucket='work', Prefix='page/', MaxKeys=3)
            out['v1_truncated'] = v1['IsTruncated']
            out['delim'] = [c['Prefix'] for c in s3.list_objects_v2(Bucket='work', Delimiter='/').get('CommonPrefixes', [])]
            out['range'] = s3.get_object(Bucket='work', Key='dir/small.txt', Range='bytes=0-4')['Body'].read().decode()
            etag = s3.head_object(Bucket='work', Key='dir/small.txt')['ETag']
            try:
                s3.get_object(Bucket='work', Key='dir/small.txt', IfNoneMatch=etag); out['304'] = False
            except Exception as e: out['304'] = '304' in str(e)
            s3.copy_object(Bucket='work', Key='page/0', CopySource='work/page/1', MetadataDirective='REPLACE', Metadata={'k': 'new'})
            out['replaced'] = s3.head_object(Bucket='work', Key='page/0')['Metadata']
            mp = s3.create_multipart_upload(Bucket='work', Key='mp')
            part = s3.upload_part(Bucket='work', Key='mp', UploadId=mp['UploadId'], PartNumber=1, Body=b'a' * (5 << 20))
            pc = s3.upload_part_copy(Bucket='work', Key='mp', UploadId=mp['UploadId'], PartNumber=2, CopySource='work/dir/small.txt')
            out['parts'] = len(s3.list_parts(Bucket='work', Key='mp', UploadId=mp['UploadId'])['Parts'])
            out['uploads'] = len(s3.list_multipart_uploads(Bucket='work').get('Uploads', []))
            s3.complete_multipart_upload(Bucket='work', Key='mp', UploadId=mp['UploadId'], MultipartUpload={'Parts': [
                {'PartNumber': 1, 'ETag': part['ETag']}, {'PartNumber': 2, 'ETag': pc['CopyPartResult']['ETag']}]})
            out['mp_size'] = s3.head_object(Bucket='work', Key='mp')['ContentLength']
            ab = s3.create_multipart_upload(Bucket='work', Key='aborted')
            s3.abort_multipart_upload(Bucket='work', Key='aborted', UploadId=ab['UploadId'])
            d = s3.delete_objects(Bucket='work', Delete={'Objects': [{'Key': 'page/%d' % i} for i in range(5)]})
            out['deleted'] = len(d.get('Deleted', []))
            try:
                s3.list_objects_v2(Bucket='other'); out['other'] = 'listed'
            except Exception as e: out['other'] = str(e)
            print(json.dumps(out))
            """)
        #expect(r.status == 0, "\(r.stderr)")
        let out = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout) \(r.stderr)")
        #expect(out["buckets"] as? [String] == ["work"])  // only the grant's bucket
        #expect(out["v2"] as? [String] == (0..<5).map { "page/\($0)" })
        #expect(out["v1_truncated"] as? Bool == true)
        #expect((out["delim"] as? [String])?.contains("dir/") == true)
        #expect(out["range"] as? String == "hello")
        #expect(out["304"] as? Bool == true)
        #expect(out["replaced"] as? [String: String] == ["k": "new"])
        #expect(out["parts"] as? Int == 2)
        #expect(out["uploads"] as? Int == 1)
        #expect(out["mp_size"] as? Int == (5 << 20) + 14)
        #expect(out["deleted"] as? Int == 5)
        #expect((out["other"] as? String)?.contains("is for bucket work, not other") == true, "\(out["other"] ?? "")")

        // Every request was counted, the refusal too.
        let metrics = try #require(h.metrics())
        #expect(metrics.contains("garagetytus_s3_requests_total{op=\"putObject\",status=\"200\"}"))
        #expect(metrics.contains("garagetytus_s3_denied_total{reason=\"permission\"} 1"))
        #expect(eventually(timeout: 3) { h.metric("garagetytus_active_grants") == 1 })
        // Per-bucket traffic is rolled up for `bucket info` (last 1h/24h/7d).
        #expect(eventually(timeout: 5, every: 0.2) {
            let info = try? JSONDecoder().decode(BucketInfo.self, from: Data(((try? h.run(["bucket", "info", "work", "--json"]))?.stdout ?? "").utf8))
            return (info?.traffic["1h"]?.ops ?? 0) >= 20 && (info?.traffic["7d"]?.bytesIn ?? 0) >= 20 << 20 && info?.objects == 3
        }, "\((try? h.run(["bucket", "info", "work", "--json"]))?.stdout ?? "")")
    }

    @Test func presignedURLsStopAtDenyAllWithinASecondAndWorkAgainAfterAllow() throws {
        let h = try DaemonHarness(name: "gwp")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("shared")
        let g = try h.mintGrant("shared", perms: "read,write")
        let file = h.home + "/f.txt"
        try "presigned\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try h.aws(g, ["s3", "cp", file, "s3://shared/f.txt", "--only-show-errors"]).status == 0)
        // aws-cli presigns with SigV2 against a custom endpoint, boto3 with s3v4 when asked: both must work.
        let v2 = try h.aws(g, ["s3", "presign", "s3://shared/f.txt"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let v4 = try h.boto3(g, "print(s3.generate_presigned_url('get_object', Params={'Bucket': 'shared', 'Key': 'f.txt'}, ExpiresIn=600))")
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(v2.contains("Signature=") && v4.contains("X-Amz-Signature="))
        for url in [v2, v4] { #expect(DaemonHarness.fetch(url) == (200, "presigned\n")) }

        #expect(try h.run(["bucket", "deny-all", "shared", "--ttl", "1h"]).status == 0)
        // In force when the command returns: the very next request is refused (no wait).
        #expect([v2, v4].allSatisfy { DaemonHarness.fetch($0).status == 403 })
        #expect(DaemonHarness.fetch(v4).body.contains("is under deny-all until"))
        #expect(try h.aws(g, ["s3", "cp", file, "s3://shared/g.txt"]).status != 0)

        #expect(try h.run(["bucket", "allow", "shared"]).status == 0)
        #expect([v2, v4].allSatisfy { DaemonHarness.fetch($0) == (200, "presigned\n") })
        let audit = try String(contentsOfFile: h.paths.auditLog, encoding: .utf8)
        #expect(audit.contains("\"event\":\"bucket_deny_all\"") && audit.contains("\"event\":\"bucket_allow\"") && audit.contains("\"event\":\"request_refused\""))
        #expect(!audit.contains(g.secretKey))
    }

    @Test func revokeRefusesTheVeryNextRequestAndExpiryIsExact() throws {
        let h = try DaemonHarness(name: "gwr")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.startWithHooks().status == 0)
        try h.createBucket("keys")
        let g = try h.mintGrant("keys", perms: "read,list")
        #expect(try h.aws(g, ["s3", "ls", "s3://keys/"]).status == 0)
        // A grant without write cannot PUT.
        let file = h.home + "/x"
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        let put = try h.aws(g, ["s3", "cp", file, "s3://keys/x"])
        #expect(put.status != 0 && put.stderr.contains("does not allow write"), "\(put.stderr)")

        let revoke = try h.run(["bucket", "revoke", g.grantID])
        #expect(revoke.status == 0, "\(revoke.stderr)")
        let after = try h.aws(g, ["s3", "ls", "s3://keys/"])
        #expect(after.status != 0 && after.stderr.contains("grant \(g.grantID) was revoked"), "\(after.stderr)")
        let twice = try h.run(["bucket", "revoke", g.grantID])
        #expect(twice.status == 64 && twice.stderr.contains("already revoked"))
        let listed = try h.run(["bucket", "grants", "keys", "--json"])
        #expect(listed.stdout.contains("\"state\" : \"revoked\""))

        // Expiry: the hook moves it 1 s ahead instead of waiting out a 30m TTL.
        let e = try h.mintGrant("keys", perms: "list", ttl: "30m")
        #expect(try h.aws(e, ["s3", "ls", "s3://keys/"]).status == 0)
        try h.expireSoon(grant: e.grantID, in: 1)
        #expect(eventually(timeout: 5, every: 0.2) { (try? h.aws(e, ["s3", "ls", "s3://keys/"]))?.stderr.contains("expired at") == true })
    }

    @Test func quotaRefusalStoresNothingAndBucketTTLExpiresByItself() throws {
        let h = try DaemonHarness(name: "gwq")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.startWithHooks().status == 0)
        try h.createBucket("tiny", ttl: "30m", quota: "1M")
        let g = try h.mintGrant("tiny")
        let fits = h.home + "/fits", tooBig = h.home + "/toobig"
        try Data(count: 600 << 10).write(to: URL(fileURLWithPath: fits))
        try Data(count: 600 << 10).write(to: URL(fileURLWithPath: tooBig))
        #expect(try h.aws(g, ["s3", "cp", fits, "s3://tiny/fits", "--only-show-errors"]).status == 0)
        let refused = try h.aws(g, ["s3", "cp", tooBig, "s3://tiny/toobig"])
        #expect(refused.status != 0 && refused.stderr.contains("QuotaExceeded") && refused.stderr.contains("quota of 1M"), "\(refused.stderr)")
        let engine = try h.engineClient()
        #expect(try engine.listAll(bucket: "tiny").objects.map(\.key) == ["fits"])

        // TTL: the janitor expires the bucket (deny-all, revoke, delete objects, delete bucket).
        try h.expireSoon(bucket: "tiny", in: 0.5)
        #expect(eventually(timeout: 10, every: 0.2) { (try? h.run(["bucket", "list", "--json"]))?.stdout.contains("tiny") == false })
        #expect((try? engine.listAll(bucket: "tiny")) == nil)  // the engine's bucket is gone
        let grants = try h.run(["bucket", "grants", "--json"]).stdout
        #expect(grants.contains("\"state\" : \"revoked\""))
        let audit = try String(contentsOfFile: h.paths.auditLog, encoding: .utf8)
        #expect(audit.contains("\"event\":\"bucket_expired\""))
    }
}

/// rclone and curl --aws-sigv4 as grant clients (s3fs: S3fsInteropTests, the mount: MountThroughGatewayTests).
@Suite struct GatewayClientsTests {
    @Test func rcloneAndCurlWorkWithAGrant() throws {
        let h = try DaemonHarness(name: "gwc")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("tools")
        let g = try h.mintGrant("tools")
        let src = h.home + "/src"
        try FileManager.default.createDirectory(atPath: src + "/sub", withIntermediateDirectories: true)
        try "one\n".write(toFile: src + "/one.txt", atomically: true, encoding: .utf8)
        try Data(count: 9 << 20).write(to: URL(fileURLWithPath: src + "/sub/nine.bin"))
        let remote = [":s3:tools/copy", "--s3-provider", "Other", "--s3-endpoint", h.gatewayURL, "--s3-region", "us-east-1",
                      "--s3-access-key-id", g.accessKey, "--s3-secret-access-key", g.secretKey, "--s3-force-path-style=true"]
        func rclone(_ args: [String]) throws -> DaemonHarness.Result {
            try DaemonHarness.runProcess("/usr/bin/env", ["rclone", "--config", "/dev/null"] + args, env: ProcessInfo.processInfo.environment, timeout: 120)
        }
        let copy = try rclone(["copy", src] + remote)
        #expect(copy.status == 0, "\(copy.stderr)")
        let ls = try rclone(["ls"] + remote)
        #expect(ls.stdout.contains("4 one.txt") && ls.stdout.contains("9437184 sub/nine.bin"), "\(ls.stdout) \(ls.stderr)")
        let check = try rclone(["check", src] + remote)
        #expect(check.status == 0, "\(check.stderr)")

        func curl(_ args: [String]) throws -> DaemonHarness.Result {
            try DaemonHarness.runProcess("/usr/bin/env", ["curl", "-s", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "\(g.accessKey):\(g.secretKey)"] + args,
                                         env: [:], timeout: 30)
        }
        #expect(try curl(["\(h.gatewayURL)/tools/copy/one.txt"]).stdout == "one\n")
        let put = try curl(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-T", src + "/one.txt", "-w", "%{http_code}", "\(h.gatewayURL)/tools/by-curl.txt"])
        #expect(put.stdout == "200", "\(put.stdout)")
        let noHeader = try curl(["-T", src + "/one.txt", "\(h.gatewayURL)/tools/refused.txt"])
        #expect(noHeader.stdout.contains("x-amz-content-sha256: UNSIGNED-PAYLOAD"))  // the error says how to fix it
    }
}
