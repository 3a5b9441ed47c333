import Daemon
import Foundation
import S3
import Testing
import TestSupport

/// The mount as a grant's client of the front door: every request goes through the gateway's
/// checks, and the grant's limits show up as errors in the filesystem.
@Suite struct MountThroughGatewayTests {
    @Test func aMountWithAGrantFileWorksAndStopsWorkingWhenTheGrantIsRevoked() throws {
        let h = try DaemonHarness(name: "mgw")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("home", quota: "200M")
        let g = try h.mintGrant("home")
        let (mnt, _) = try h.mountWithGrant(g, bucket: "home")
        defer { h.forceUnmount(mnt) }

        // Small files, a directory, a rename, a 40 MiB file (multipart, streamed) read back.
        try FileManager.default.createDirectory(atPath: mnt + "/docs", withIntermediateDirectories: true)
        try "through the front door\n".write(toFile: mnt + "/docs/a.txt", atomically: false, encoding: .utf8)
        try FileManager.default.moveItem(atPath: mnt + "/docs/a.txt", toPath: mnt + "/docs/b.txt")
        var big = Data(count: 40 << 20)
        big.withUnsafeMutableBytes { p in for i in stride(from: 0, to: p.count, by: 512) { p[i] = UInt8(truncatingIfNeeded: i >> 9) } }
        try big.write(to: URL(fileURLWithPath: mnt + "/big.bin"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: mnt + "/big.bin")) == big)
        #expect(try FileManager.default.contentsOfDirectory(atPath: mnt + "/docs") == ["b.txt"])
        let engine = try h.engineClient()
        #expect(try engine.get(bucket: "home", key: "docs/b.txt") == Data("through the front door\n".utf8))
        #expect(try engine.head(bucket: "home", key: "big.bin").size == 40 << 20)
        // A 4 KiB overwrite inside the big file: UploadPartCopy of the untouched parts through the gateway.
        let fh = try FileHandle(forUpdating: URL(fileURLWithPath: mnt + "/big.bin"))
        try fh.seek(toOffset: 20 << 20)
        try fh.write(contentsOf: Data(repeating: 0xAB, count: 4096))
        try fh.close()
        big.replaceSubrange((20 << 20)..<((20 << 20) + 4096), with: Data(repeating: 0xAB, count: 4096))
        #expect(try engine.get(bucket: "home", key: "big.bin") == big)

        // Revoked: the mount's next request is refused (EACCES), nothing it writes is stored.
        #expect(try h.run(["bucket", "revoke", g.grantID]).status == 0)
        #expect(!FileManager.default.createFile(atPath: mnt + "/after-revoke.txt", contents: Data("no".utf8)) ||
                (try? engine.head(bucket: "home", key: "after-revoke.txt")) == nil)
        #expect((try? engine.head(bucket: "home", key: "after-revoke.txt")) == nil)
    }
}
