import Daemon
import Foundation
import Mount
import S3
import Testing
import TestSupport

/// A real FUSE mount (in this process) of a bucket on the real engine, read through the kernel.
@Suite(.serialized) struct FuseReadTests {
    @Test func bucketObjectsAppearAsFilesThroughTheKernel() throws {
        let (h, client) = try DaemonHarness.started(name: "fuse", bucket: "fusebucket")
        defer { _ = try? h.run(["stop"]) }
        let big = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try client.put(bucket: "fusebucket", key: "big.bin", body: big, metadata: ["mode": "33188"])
        try client.put(bucket: "fusebucket", key: "dir/nested.txt", body: Data("nested\n".utf8))
        try client.put(bucket: "fusebucket", key: "ln", body: Data("big.bin".utf8), metadata: ["mode": "41471"])

        let mount = try InProcessMount(client: client, bucket: "fusebucket", readOnly: true)
        let mnt = mount.mountpoint
        defer { mount.unmount() }

        let names = try FileManager.default.contentsOfDirectory(atPath: mnt).sorted()
        #expect(names == ["big.bin", "dir", "ln"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: mnt + "/big.bin")) == big)
        #expect(try String(contentsOfFile: mnt + "/dir/nested.txt", encoding: .utf8) == "nested\n")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: mnt + "/ln") == "big.bin")
        let attrs = try FileManager.default.attributesOfItem(atPath: mnt + "/big.bin")
        #expect(attrs[.size] as? Int == big.count)
        #expect(attrs[.posixPermissions] as? Int == 0o644)
        #expect(!FileManager.default.fileExists(atPath: mnt + "/missing"))
        // Writing is refused with EROFS, not silently dropped.
        let fd = open(mnt + "/big.bin", O_WRONLY)
        #expect(fd == -1 && errno == EROFS)
    }
}
