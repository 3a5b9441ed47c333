import Foundation
import Testing
import TestSupport

/// A presigned URL does only what its signer signed (issue 15): an `x-amz-*` header its holder adds
/// is refused as AWS refuses it, so a presigned PUT cannot become a CopyObject or tag an object.
@Suite struct PresignedHeaderTests {
    @Test func aPresignedPutCannotBeTurnedIntoACopyOrTaggedButWorksAsSigned() throws {
        let h = try DaemonHarness(name: "presh")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("shared")
        let g = try h.mintGrant("shared")
        let r = try h.boto3(g, """
            import urllib.request
            s3.put_object(Bucket='shared', Key='private.txt', Body=b'not for the URL holder')
            def send(url, headers, body=b'uploaded'):
                req = urllib.request.Request(url, data=body, method='PUT', headers=headers)
                try:
                    with urllib.request.urlopen(req) as resp:
                        return [resp.status, resp.read().decode()]
                except urllib.error.HTTPError as e:
                    return [e.code, e.read().decode()]
            put = s3.generate_presigned_url('put_object', Params={'Bucket': 'shared', 'Key': 'upload.txt'}, ExpiresIn=600)
            out = {
              'copy': send(put, {'x-amz-copy-source': 'shared/private.txt'}, b''),
              'tagging': send(put, {'x-amz-tagging': 'owner=me'}),
              'meta': send(put, {'x-amz-meta-owner': 'me'}),
            }
            out['after_refusals'] = sorted(o['Key'] for o in s3.list_objects_v2(Bucket='shared').get('Contents', []))
            out['plain'] = send(put, {'Content-Type': 'text/plain'})
            signed = s3.generate_presigned_url('put_object', Params={'Bucket': 'shared', 'Key': 'meta.txt', 'Metadata': {'owner': 'me'}}, ExpiresIn=600)
            out['signed_meta'] = send(signed, {'x-amz-meta-owner': 'me'})
            out['stored'] = s3.get_object(Bucket='shared', Key='upload.txt')['Body'].read().decode()
            out['meta_stored'] = s3.head_object(Bucket='shared', Key='meta.txt')['Metadata']
            print(json.dumps(out))
            """)
        let o = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout) \(r.stderr)")
        for k in ["copy", "tagging", "meta"] {
            let answer = o[k] as? [Any]
            #expect(answer?.first as? Int == 403, "\(k): \(String(describing: answer))")
            #expect((answer?.last as? String)?.contains("There were headers present in the request which were not signed") == true, "\(k)")
        }
        #expect(o["after_refusals"] as? [String] == ["private.txt"], "a refused request stored nothing")
        #expect((o["plain"] as? [Any])?.first as? Int == 200)
        #expect((o["signed_meta"] as? [Any])?.first as? Int == 200, "\(String(describing: o["signed_meta"]))")
        #expect(o["stored"] as? String == "uploaded")
        #expect(o["meta_stored"] as? [String: String] == ["owner": "me"])
    }
}
