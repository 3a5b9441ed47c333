import Daemon
import Foundation
import S3
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

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
        // A 4 KiB overwrite inside the big file moves one part: the part holding it is uploaded
        // (8 MiB of PUT bytes), the other four are copied server side (UploadPartCopy).
        func requests(_ op: String) -> Double { h.metric("garagetytus_s3_requests_total{op=\"\(op)\",status=\"200\"}") ?? 0 }
        let before = (copies: requests("uploadPartCopy"), parts: requests("uploadPart"),
                      putBytes: try #require(mountStat(mnt, "garagetytus_object_bytes_total{method=\"PUT\"}")))
        #expect(posixWrite(mnt + "/big.bin", Data(repeating: 0xAB, count: 4096), at: 20 << 20) == 0)
        big.replaceSubrange((20 << 20)..<((20 << 20) + 4096), with: Data(repeating: 0xAB, count: 4096))
        #expect(try engine.get(bucket: "home", key: "big.bin") == big)
        #expect(requests("uploadPartCopy") - before.copies == 4)
        #expect(requests("uploadPart") - before.parts == 1)
        #expect(mountStat(mnt, "garagetytus_object_bytes_total{method=\"PUT\"}").map { $0 - before.putBytes } == Double(8 << 20))

        // The copies are guarded by the ETag the mount saw: when another client has replaced the
        // object meanwhile, the close fails with EIO (the copies got 412) and the other client's
        // bytes stand.
        // (The first part is written whole, so nothing but the copies reads the old object.)
        let theirs = Data(repeating: 7, count: 40 << 20)
        let fd = open(mnt + "/big.bin", O_WRONLY)
        #expect(fd >= 0)
        let mine = Data(repeating: 0xCD, count: 8 << 20)
        #expect(mine.withUnsafeBytes { pwrite(fd, $0.baseAddress!, $0.count, 0) } == mine.count)
        _ = try h.gatewayClient(g).put(bucket: "home", key: "big.bin", body: theirs)
        let copiesBeforeClose = h.metric("garagetytus_s3_requests_total{op=\"uploadPartCopy\",status=\"412\"}") ?? 0
        #expect(close(fd) == -1 && errno == EIO)
        #expect((h.metric("garagetytus_s3_requests_total{op=\"uploadPartCopy\",status=\"412\"}") ?? 0) > copiesBeforeClose)
        #expect(try engine.get(bucket: "home", key: "big.bin") == theirs)

        // A rename is one move (?renameObject), no copy of the bytes: 40 MiB move at once, bytes
        // intact; its new ctime is one metadata-only copy onto itself.
        let copiesBefore = requests("copyObject")
        try FileManager.default.moveItem(atPath: mnt + "/big.bin", toPath: mnt + "/docs/moved.bin")
        #expect(requests("renameObject") == 2, "docs/a.txt and big.bin")
        #expect(requests("copyObject") == copiesBefore + 1)
        #expect(try engine.get(bucket: "home", key: "docs/moved.bin") == theirs)
        #expect((try? engine.head(bucket: "home", key: "big.bin")) == nil)

        // Revoked: the mount's next upload is refused with EACCES, and nothing is stored.
        #expect(try h.run(["bucket", "revoke", g.grantID]).status == 0)
        #expect(posixWrite(mnt + "/after-revoke.txt", Data("no".utf8)) == EACCES)
        let absent = #expect(throws: S3Error.self) { try engine.head(bucket: "home", key: "after-revoke.txt") }
        #expect(absent?.kind == .notFound)
    }
}
