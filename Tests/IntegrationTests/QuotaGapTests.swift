import Foundation
import Testing
import TestSupport

/// Quota counts what is stored (issue 15): the parts of unfinished uploads stay counted across
/// usage rescans, a copy is sized from exactly the object the engine copies (or refused), and
/// uploads left unfinished are aborted by the janitor.
@Suite struct QuotaGapTests {
    @Test func partsOfAnUnfinishedUploadStayCountedAcrossRescans() throws {
        let h = try DaemonHarness(name: "qmp") { $0.gateway.usageRescanSeconds = 1 }
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("small", quota: "10M")
        let g = try h.mintGrant("small")
        let r = try h.boto3(g, """
            import time
            six = b'p' * (6 << 20)
            mp = s3.create_multipart_upload(Bucket='small', Key='big')
            p1 = s3.upload_part(Bucket='small', Key='big', UploadId=mp['UploadId'], PartNumber=1, Body=six)
            time.sleep(3)   # at least two usage rescans (every second here) run in between
            out = {'second_part_refused': refused(lambda: s3.upload_part(Bucket='small', Key='big', UploadId=mp['UploadId'], PartNumber=2, Body=six))}
            s3.complete_multipart_upload(Bucket='small', Key='big', UploadId=mp['UploadId'],
                                         MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': p1['ETag']}]})
            out['size'] = s3.head_object(Bucket='small', Key='big')['ContentLength']
            out['more_refused'] = refused(lambda: s3.put_object(Bucket='small', Key='more', Body=b'm' * (5 << 20)))
            print(json.dumps(out))
            """)
        let o = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout) \(r.stderr)")
        #expect(o["second_part_refused"] as? Bool == true, "a part uploaded before a rescan was forgotten")
        #expect(o["size"] as? Int == 6 << 20)
        #expect(o["more_refused"] as? Bool == true)
    }

    @Test func copySourcesTheGatewayCannotSizeExactlyAreRefused() throws {
        let h = try DaemonHarness(name: "qcp")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("copies", quota: "10M")
        let g = try h.mintGrant("copies")
        let r = try h.boto3(g, """
            s3.put_object(Bucket='copies', Key='six', Body=b's' * (6 << 20))
            def status(source):
                try:
                    s3.copy_object(Bucket='copies', Key='dup', CopySource=source); return 200
                except botocore.exceptions.ClientError as e:
                    return [e.response['ResponseMetadata']['HTTPStatusCode'], e.response['Error'].get('Message', '')]
            # botocore quotes a string CopySource as given: each of these reaches the gateway verbatim.
            out = {
              'version': status('copies/six?versionId=null'),
              'double_slash': status('copies//six'),
              'dot_segment': status('copies/./six'),
              'missing': status('copies/nothing-here'),
              'over_quota': status('copies/six'),
            }
            # A key with '?' (sent as %3F) is an ordinary key: copied, and sized right.
            s3.put_object(Bucket='copies', Key='what?.txt', Body=b'q' * 1000)
            s3.copy_object(Bucket='copies', Key='what-copy.txt', CopySource={'Bucket': 'copies', 'Key': 'what?.txt'})
            out['question'] = s3.head_object(Bucket='copies', Key='what-copy.txt')['ContentLength']
            for k in ('what?.txt', 'what-copy.txt'): s3.delete_object(Bucket='copies', Key=k)
            out['keys'] = sorted(o['Key'] for o in s3.list_objects_v2(Bucket='copies').get('Contents', []))
            print(json.dumps(out))
            """)
        let o = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout) \(r.stderr)")
        for k in ["version", "double_slash", "dot_segment"] {
            let a = o[k] as? [Any]
            #expect(a?.first as? Int == 400 && (a?.last as? String)?.contains("x-amz-copy-source") == true, "\(k): \(String(describing: o[k]))")
        }
        #expect((o["missing"] as? [Any])?.first as? Int == 404, "\(String(describing: o["missing"]))")
        #expect((o["over_quota"] as? [Any])?.first as? Int == 403, "6 MiB + a 6 MiB copy exceed 10 MiB: \(String(describing: o["over_quota"]))")
        #expect(o["question"] as? Int == 1000)
        #expect(o["keys"] as? [String] == ["six"])
    }

    @Test func uploadsLeftUnfinishedAreAbortedAndCounted() throws {
        // 0.001 h = 3.6 s; the janitor looks every second here.
        let h = try DaemonHarness(name: "qab") { $0.gateway.usageRescanSeconds = 1; $0.gateway.abortUploadsAfterHours = 0.001 }
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("left")
        let g = try h.mintGrant("left")
        let r = try h.boto3(g, """
            mp = s3.create_multipart_upload(Bucket='left', Key='abandoned')
            s3.upload_part(Bucket='left', Key='abandoned', UploadId=mp['UploadId'], PartNumber=1, Body=b'a' * (5 << 20))
            print(len(s3.list_multipart_uploads(Bucket='left').get('Uploads', [])))
            """)
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "\(r.stderr)")
        #expect(eventually(timeout: 30, every: 0.5) { (h.metric("garagetytus_multipart_uploads_aborted_total") ?? 0) >= 1 })
        let after = try h.boto3(g, "print(len(s3.list_multipart_uploads(Bucket='left').get('Uploads', [])))")
        #expect(after.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "\(after.stderr)")
        #expect(h.logText().contains("aborted 1 multipart upload(s) of bucket left"))
    }
}
