import Daemon
import Foundation
import Mount
import S3
import Testing
import TestSupport

/// The same bucket through aws-cli and our mount: bytes and s3fs-named modes agree both ways.
@Suite(.serialized) struct InteropTests {
    @Test func awsCliSeesWhatTheMountWroteAndTheOtherWayRound() throws {
        let h = try DaemonHarness(name: "interop")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        let id = try EngineIdentity.load(from: h.paths.identityFile)
        let client = try h.engineClient()
        try client.createBucket("shared")
        var env = ProcessInfo.processInfo.environment
        env["AWS_ACCESS_KEY_ID"] = id.accessKeyID
        env["AWS_SECRET_ACCESS_KEY"] = id.secretAccessKey
        env["AWS_DEFAULT_REGION"] = "us-east-1"
        let endpoint = h.adminEndpoint.absoluteString
        func aws(_ args: [String]) throws -> DaemonHarness.Result {
            try DaemonHarness.runProcess("/usr/bin/env", ["aws", "--endpoint-url", endpoint] + args, env: env, timeout: 60)
        }

        // aws-cli writes (with s3fs-style metadata), the mount reads.
        let src = h.home + "/from-aws.txt"
        try "from aws\n".write(toFile: src, atomically: true, encoding: .utf8)
        #expect(try aws(["s3", "cp", src, "s3://shared/docs/from-aws.txt", "--metadata", "mode=33184"]).status == 0)
        let ours = h.home + "/ours"
        try FileManager.default.createDirectory(atPath: ours, withIntermediateDirectories: true)
        let vfs = VFS(store: S3ObjectStore(client: client, bucket: "shared"),
                      options: VFSOptions(defaults: AttributeDefaults(uid: 0, gid: 0), cacheDir: h.home))
        let mount = try FuseMount(vfs: vfs, mountpoint: ours)
        defer { mount.unmount() }
        #expect(try String(contentsOfFile: ours + "/docs/from-aws.txt", encoding: .utf8) == "from aws\n")
        #expect(try FileManager.default.attributesOfItem(atPath: ours + "/docs/from-aws.txt")[.posixPermissions] as? Int == 0o640)

        // The mount writes, aws-cli reads bytes and s3fs-named metadata.
        #expect(FileManager.default.createFile(atPath: ours + "/docs/from-mount.txt", contents: Data("from mount\n".utf8),
                                               attributes: [.posixPermissions: 0o600]))
        let head = try aws(["s3api", "head-object", "--bucket", "shared", "--key", "docs/from-mount.txt"])
        #expect(head.status == 0)
        #expect(head.stdout.contains("\"mode\": \"\(0o100600)\""), "\(head.stdout)")
        let got = h.home + "/got.txt"
        #expect(try aws(["s3", "cp", "s3://shared/docs/from-mount.txt", got]).status == 0)
        #expect(try String(contentsOfFile: got, encoding: .utf8) == "from mount\n")
    }
}
