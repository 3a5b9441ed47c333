import Daemon
import Foundation
import S3
import Testing
import TestSupport

/// `PUT <key>?renameObject` through the front door (SeaweedFS 4.42+): one request, no copy, for a
/// grant with write and delete on the bucket — and nothing else the engine would do that no
/// policy decided on.
@Suite struct GatewayRenameTests {
    typealias Env = GatewayBadRequestTests.Env

    @Test func aGrantRenamesWithinItsBucketAndNothingReachesAroundThePolicy() throws {
        let h = try DaemonHarness(name: "rename")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("b0x")
        try h.createBucket("other")
        let engine = try h.engineClient()
        let body = Data(repeating: 0x5A, count: 3 << 20)
        _ = try engine.put(bucket: "b0x", key: "dir/old name", body: body, metadata: ["mode": "33188"])
        _ = try engine.put(bucket: "other", key: "theirs", body: Data("not yours".utf8))
        let rw = Env(h: h, grant: try h.mintGrant("b0x"))
        let noDelete = Env(h: h, grant: try h.mintGrant("b0x", perms: "read,write,list"))

        // A rename moves the object (bytes and metadata) in one request, and the source is gone.
        let renamed = try rw.send("PUT", "/b0x/dir/new?renameObject", headers: [("x-amz-rename-source", "/b0x/dir/old%20name")])
        #expect(renamed.status == 200, "\(renamed.status) \(renamed.text)")
        #expect(try engine.get(bucket: "b0x", key: "dir/new") == body)
        #expect(try engine.head(bucket: "b0x", key: "dir/new").metadata["mode"] == "33188")
        #expect((try? engine.head(bucket: "b0x", key: "dir/old name")) == nil)
        #expect((h.metric("garagetytus_s3_requests_total{op=\"renameObject\",status=\"200\"}") ?? 0) == 1)

        // Without delete, from another bucket, or with a source the gateway does not read as the
        // engine does: refused, and both objects stay where they are.
        let r1 = try noDelete.send("PUT", "/b0x/x?renameObject", headers: [("x-amz-rename-source", "/b0x/dir/new")])
        #expect(r1.status == 403 && r1.text.contains("does not allow delete"), "\(r1.text)")
        let r2 = try rw.send("PUT", "/b0x/stolen?renameObject", headers: [("x-amz-rename-source", "/other/theirs")])
        #expect(r2.status == 403 && r2.text.contains("can rename only within bucket b0x"), "\(r2.text)")
        let r3 = try rw.send("PUT", "/b0x/y?renameObject", headers: [("x-amz-rename-source", "/b0x/dir/../dir/new")])
        #expect(r3.status == 400 && rw.code(r3) == "InvalidArgument", "\(r3.text)")
        #expect(try engine.get(bucket: "other", key: "theirs") == Data("not yours".utf8))
        #expect(try engine.get(bucket: "b0x", key: "dir/new") == body)
        #expect(try rw.keys() == ["dir/new"])

        // The header on a plain PUT is refused, not handed to the engine; so is a parameter of an
        // operation the gateway does not know (SeaweedFS's append would write past the policy's view).
        let r4 = try rw.send("PUT", "/b0x/z", body: Data("z".utf8), headers: [("x-amz-rename-source", "/b0x/dir/new")])
        #expect(r4.status == 400 && r4.text.contains("only for a PUT of a key with ?renameObject"), "\(r4.text)")
        let r5 = try rw.send("PUT", "/b0x/dir/new?append&position=\(3 << 20)", body: Data("more".utf8))
        #expect(r5.status == 501 && rw.code(r5) == "NotImplemented", "\(r5.status) \(r5.text)")
        #expect(try engine.head(bucket: "b0x", key: "dir/new").size == Int64(3 << 20))
        #expect(try rw.keys() == ["dir/new"])
    }
}
