import Daemon
import Foundation
import Testing

@Suite struct S3OperationTests {
    func op(_ method: String, _ path: String, _ query: [String: String] = [:], copy: String? = nil) -> S3Operation {
        S3Operation.classify(method: method, path: path, query: query, headers: { $0 == "x-amz-copy-source" ? copy : nil })
    }

    @Test func theClientsOperationsAreRecognised() {
        #expect(op("GET", "/").kind == .listBuckets)
        #expect(op("HEAD", "/b").kind == .headBucket && op("GET", "/b", ["location": ""]).kind == .getBucketLocation)
        #expect(op("GET", "/b", ["list-type": "2", "prefix": "a/", "delimiter": "/"]).kind == .listObjectsV2)
        #expect(op("GET", "/b", ["prefix": "a"]).kind == .listObjects && op("GET", "/b", ["uploads": ""]).kind == .listMultipartUploads)
        #expect(op("POST", "/b", ["delete": ""]).kind == .deleteObjects)
        let get = op("GET", "/b/dir/k.txt")
        #expect(get.kind == .getObject && get.bucket == "b" && get.key == "dir/k.txt")
        #expect(op("PUT", "/b/k").kind == .putObject && op("PUT", "/b/k", copy: "/b/src").kind == .copyObject)
        #expect(op("PUT", "/b/k", copy: "b/src%20x").copySource == "b/src x")
        #expect(op("POST", "/b/k", ["uploads": ""]).kind == .createMultipartUpload)
        #expect(op("PUT", "/b/k", ["partNumber": "1", "uploadId": "u"]).kind == .uploadPart)
        #expect(op("PUT", "/b/k", ["partNumber": "1", "uploadId": "u"], copy: "b/s").kind == .uploadPartCopy)
        #expect(op("POST", "/b/k", ["uploadId": "u"]).kind == .completeMultipartUpload)
        #expect(op("DELETE", "/b/k", ["uploadId": "u"]).kind == .abortMultipartUpload && op("GET", "/b/k", ["uploadId": "u"]).kind == .listParts)
        #expect(op("DELETE", "/b/k").kind == .deleteObject && op("PUT", "/b").kind == .createBucket)
        #expect(op("PUT", "/b/k", ["acl": ""]).kind == .unsupported && op("GET", "/b", ["policy": ""]).kind == .unsupported)
        #expect(op("PATCH", "/b/k").kind == .unsupported)
    }

    func rename(_ path: String, _ query: [String: String] = ["renameObject": ""], source: String?, copy: String? = nil) -> S3Operation {
        S3Operation.classify(method: "PUT", path: path, query: query, headers: { $0 == "x-amz-rename-source" ? source : $0 == "x-amz-copy-source" ? copy : nil })
    }

    @Test func renamesAreTheirOwnOperationAndTheirSourceIsReadStrictly() {
        let r = rename("/b/new", source: "/b/dir/old%20name")
        #expect(r.kind == .renameObject && r.renameSource == "b/dir/old name" && r.copySource == nil && r.copySourceProblem == nil)
        #expect(r.permission == .write && r.writes)
        #expect(rename("/b/new", source: nil).copySourceProblem?.contains("needs x-amz-rename-source") == true)
        #expect(rename("/b/new", source: "b/a/../k").copySourceProblem?.hasPrefix("x-amz-rename-source ") == true)
        #expect(rename("/b/new", source: "b/a", copy: "b/c").copySourceProblem?.contains("cannot also be a copy") == true)
        // The header on anything but a rename is refused, never forwarded for the engine to act on.
        #expect(rename("/b/new", [:], source: "b/old").copySourceProblem == "x-amz-rename-source is only for a PUT of a key with ?renameObject")
    }

    @Test func objectRequestsWithParametersOfUnknownOperationsAreNotForwarded() {
        for (method, query) in [("PUT", ["append": "", "position": "0"]), ("PUT", ["retention": ""]), ("PUT", ["legal-hold": ""]),
                                ("GET", ["torrent": ""]), ("POST", ["select": "", "select-type": "2"]), ("POST", ["restore": ""]),
                                ("DELETE", ["tagging": ""]), ("PUT", ["response-content-type": "x"])] {
            #expect(op(method, "/b/k", query).kind == .unsupported, "\(method) \(query)")
        }
        #expect(op("GET", "/b/k", ["response-content-type": "text/plain", "x-id": "GetObject", "X-Amz-Signature": "s"]).kind == .getObject)
        #expect(op("PUT", "/b/k", ["x-id": "PutObject"]).kind == .putObject && op("HEAD", "/b/k", ["partNumber": "1"]).kind == .headObject)
        #expect(op("GET", "/b/k", ["uploadId": "u", "max-parts": "10", "part-number-marker": "2"]).kind == .listParts)
    }

    @Test func aCopySourceIsTakenOnlyInTheFormEveryReaderAgreesOn() {
        #expect(op("PUT", "/b/k", copy: "/b/dir/a%20b%2Bc%3F.txt").copySource == "b/dir/a b+c?.txt")
        #expect(op("PUT", "/b/k", copy: "/b/dir/a%20b%2Bc%3F.txt").copySourceProblem == nil)
        #expect(op("PUT", "/b/k", copy: "/b/a%0Ab").copySource == "b/a\nb")  // any character but NUL
        for bad in ["b/k?versionId=null", "b/k%3FversionId%3Dx", "b//k", "b/./k", "b/a/../k", "b/k/", "b/a+b", "b/%zz", "b", "/b/", "b/a%00b"] {
            let o = op("PUT", "/b/k", copy: bad)
            #expect(o.copySourceProblem?.hasPrefix("x-amz-copy-source ") == true, "\(bad)")
            #expect(o.kind == .copyObject, "still a copy, refused as such: \(bad)")
        }
    }
}

@Suite struct PolicyTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    func grant(_ perms: Set<S3Operation.Permission> = [.read, .list], expiresIn: Double = 3600, state: GrantView.State = .active) -> Caller {
        .grant(GrantView(id: "g_20270115_0a1b2c3d", bucket: "ci", permissions: perms, expiresAt: now.addingTimeInterval(expiresIn), state: state))
    }
    func op(_ method: String, _ path: String, _ query: [String: String] = [:], copy: String? = nil) -> S3Operation {
        S3Operation.classify(method: method, path: path, query: query, headers: { $0 == "x-amz-copy-source" ? copy : nil })
    }
    func decide(_ o: S3Operation, _ c: Caller, bucket: BucketView? = BucketView(name: "ci"), readOnly: Bool = false) -> Policy.Decision {
        Policy.decide(o, caller: c, bucket: bucket, readOnly: (readOnly, 8.2), now: now)
    }
    func message(_ d: Policy.Decision) -> String? {
        if case .deny(_, _, let m) = d { return m }
        return nil
    }

    @Test func permissionsMapToOperations() {
        let reader = grant([.read, .list])
        #expect(decide(op("GET", "/ci/a"), reader) == .allow)
        #expect(decide(op("GET", "/ci", ["list-type": "2"]), reader) == .allow)
        #expect(message(decide(op("PUT", "/ci/a"), reader)) == "grant g_20270115_0a1b2c3d does not allow write (it has list,read)")
        #expect(message(decide(op("DELETE", "/ci/a"), reader))?.contains("does not allow delete") == true)
        let writer = grant([.write])
        #expect(decide(op("PUT", "/ci/a"), writer) == .allow)
        #expect(decide(op("PUT", "/ci/a", ["partNumber": "2", "uploadId": "u"]), writer) == .allow)
        #expect(decide(op("GET", "/ci/a"), writer) != .allow)
        #expect(decide(op("PUT", "/ci/b", copy: "ci/a"), writer) != .allow)  // copying reads the source
        #expect(decide(op("PUT", "/ci/b", copy: "ci/a"), grant([.write, .read])) == .allow)
    }

    @Test func aRenameNeedsWriteAndDeleteWithinTheGrantsBucket() {
        func rename(_ source: String) -> S3Operation {
            S3Operation.classify(method: "PUT", path: "/ci/new", query: ["renameObject": ""], headers: { $0 == "x-amz-rename-source" ? source : nil })
        }
        #expect(decide(rename("ci/old"), grant([.write, .delete])) == .allow)
        #expect(message(decide(rename("ci/old"), grant([.write, .read])))?.contains("does not allow delete (needed to rename ci/old)") == true)
        #expect(message(decide(rename("ci/old"), grant([.delete, .read])))?.contains("does not allow write") == true)
        #expect(message(decide(rename("other/a"), grant([.read, .write, .list, .delete]))) == "grant g_20270115_0a1b2c3d can rename only within bucket ci")
    }

    @Test func oneBucketPerGrantAndNoBucketAdministration() {
        #expect(message(decide(op("GET", "/other/a"), grant(), bucket: nil)) == "grant g_20270115_0a1b2c3d is for bucket ci, not other")
        #expect(decide(op("PUT", "/ci/b", copy: "other/a"), grant([.read, .write])) != .allow)
        #expect(message(decide(op("PUT", "/newbucket"), grant([.write]), bucket: nil))?.contains("cannot create buckets") == true)
        #expect(decide(op("GET", "/"), grant()) == .allow)  // filtered to its bucket by the gateway
        #expect(decide(op("PUT", "/newbucket"), .admin, bucket: nil) == .allow)
        // "Make sure the bucket exists" (rclone) on its own bucket is a no-op the gateway answers.
        #expect(decide(op("PUT", "/ci"), grant([.write])) == .allow)
        #expect(decide(op("PUT", "/ci"), grant([.read])) != .allow)
        #expect(decide(op("DELETE", "/ci"), grant([.write, .delete])) != .allow)
    }

    @Test func expiryRevokeAndDenyAllApplyToTheNextRequest() {
        #expect(message(decide(op("GET", "/ci/a"), grant(expiresIn: 0))) == "grant g_20270115_0a1b2c3d expired at 2027-01-15T08:00:00Z")
        #expect(decide(op("GET", "/ci/a"), grant(expiresIn: 1)) == .allow)
        #expect(message(decide(op("GET", "/ci/a"), grant(state: .revoking))) == "grant g_20270115_0a1b2c3d was revoked")
        let locked = BucketView(name: "ci", denyAllUntil: now.addingTimeInterval(600))
        #expect(message(decide(op("GET", "/ci/a"), grant(), bucket: locked))?.hasPrefix("bucket ci is under deny-all until 2027-01-15T08:10:00Z") == true)
        #expect(decide(op("GET", "/ci/a"), .admin, bucket: locked) != .allow)  // deny-all holds for every key
        #expect(decide(op("GET", "/ci/a"), grant(), bucket: BucketView(name: "ci", denyAllUntil: now)) == .allow)  // lapsed
        #expect(decide(op("GET", "/ci/a"), grant(), bucket: BucketView(name: "ci", expiresAt: now)) != .allow)
    }

    @Test func readOnlyModeRefusesWritesNotReads() {
        let rw = grant([.read, .write, .list, .delete])
        #expect(decide(op("GET", "/ci/a"), rw, readOnly: true) == .allow)
        guard case .deny(let status, let code, let m) = decide(op("PUT", "/ci/a"), rw, readOnly: true) else {
            Issue.record("a write was allowed in read-only mode")
            return
        }
        #expect(status == 503 && code == "ServiceUnavailable" && m.hasPrefix("daemon is read-only: disk free 8.2 %"))
        #expect(decide(op("DELETE", "/ci/a"), .admin, readOnly: true) != .allow)
        #expect(decide(op("PATCH", "/ci/a"), rw) == .deny(status: 501, code: "NotImplemented", message: "this S3 operation is not supported by garagetytus"))
    }
}

/// Which workspace grants the daemon's renewal replaces (issue 15).
@Suite struct WorkspaceRenewalDecisionTests {
    let t = Date(timeIntervalSince1970: 2_000_000_000)
    func grant(_ state: GrantView.State, endsIn: TimeInterval) -> GrantView {
        GrantView(id: "g_1", bucket: "cases", permissions: [.read, .list], expiresAt: t.addingTimeInterval(endsIn), state: state)
    }

    @Test func onlyTheDaemonsOwnRunningOutGrantIsRenewed() {
        #expect(BucketService.renewal(of: grant(.active, endsIn: 3 * 86400), label: "workspace:cases", workspace: "cases", at: t) == .keep)
        #expect(BucketService.renewal(of: grant(.active, endsIn: 3600), label: "workspace:cases", workspace: "cases", at: t) == .renew)
        #expect(BucketService.renewal(of: grant(.active, endsIn: -60), label: "workspace:cases", workspace: "cases", at: t) == .renew)
        for state in [GrantView.State.revoked, .revoking] {
            #expect(BucketService.renewal(of: grant(state, endsIn: 3600), label: "workspace:cases", workspace: "cases", at: t) == .leave("grant g_1 was revoked"))
        }
        // An imported service token (another label) is never replaced, even when it runs out.
        if case .leave = BucketService.renewal(of: grant(.active, endsIn: 60), label: "token:ci", workspace: "cases", at: t) {} else {
            Issue.record("an imported token would be replaced by a broader grant")
        }
        if case .leave = BucketService.renewal(of: grant(.active, endsIn: 60), label: "workspace:other", workspace: "cases", at: t) {} else {
            Issue.record("another workspace's grant would be renewed into this one")
        }
    }
}
