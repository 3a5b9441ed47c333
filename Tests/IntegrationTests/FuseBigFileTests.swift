import Daemon
import Foundation
import Mount
import S3
import Testing
import TestSupport

/// Big files through a real mount on the real engine: parallel multipart upload at close,
/// parallel read-ahead, and a small overwrite inside a big file that copies the untouched parts
/// server side (UploadPartCopy) instead of downloading and uploading the whole file.
@Suite(.serialized) struct FuseBigFileTests {
    func mountBucket(_ client: S3Client, _ bucket: String, at mnt: String? = nil) throws -> InProcessMount {
        try InProcessMount(client: client, bucket: bucket, at: mnt) { $0.onError = { print("mount error: \($0)") } }
    }

    /// 1 MiB of random bytes, each MiB stamped with its index so misplaced blocks are noticed.
    static func content(mib: Int) -> Data {
        var block = Data(count: 1 << 20)
        block.withUnsafeMutableBytes { for i in 0..<$0.count { $0[i] = UInt8.random(in: 0...255) } }
        var out = Data(capacity: mib << 20)
        for i in 0..<mib {
            var b = block
            b.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64(i).bigEndian) { Data($0) })
            out.append(b)
        }
        return out
    }

    @Test func bigFilesWriteReadAndOverwriteInTheMiddle() throws {
        let (h, client) = try DaemonHarness.started(name: "fusebig", bucket: "big")
        defer { _ = try? h.run(["stop"]) }
        var m = try mountBucket(client, "big")
        let mnt = m.mountpoint
        let path = mnt + "/big.bin"

        // 72 MiB written in 1 MiB writes: multipart at close, and the object has every byte.
        var expected = Self.content(mib: 72)
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let out = try #require(FileHandle(forWritingAtPath: path))
        for off in stride(from: 0, to: expected.count, by: 1 << 20) { out.write(expected.subdata(in: off..<off + (1 << 20))) }
        try out.close()
        #expect(try client.get(bucket: "big", key: "big.bin") == expected)
        m.unmount(keepDirectory: true)

        // Cold read after a remount: read-ahead serves it, in order and complete.
        m = try mountBucket(client, "big", at: mnt)
        defer { m.unmount() }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == expected)
        let stats = m.vfs.metrics.render(inodes: 0, pendingUploads: 0)
        #expect(stats.contains("garagetytus_readahead_hits_total") && !stats.contains("garagetytus_readahead_hits_total 0\n"))

        // 4 KiB overwritten in the middle: durable at close, the rest intact.
        let fd = open(path, O_WRONLY)
        #expect(fd >= 0)
        let patch = Data(repeating: 0x5A, count: 4096)
        let written = patch.withUnsafeBytes { pwrite(fd, $0.baseAddress, 4096, off_t(40 << 20) + 123) }
        #expect(written == 4096)
        #expect(close(fd) == 0)
        expected.replaceSubrange((40 << 20) + 123..<(40 << 20) + 123 + 4096, with: patch)
        #expect(try client.get(bucket: "big", key: "big.bin") == expected)

        // Append and shrink keep working on the partly staged file.
        let app = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try app.seekToEnd()
        app.write(Data("tail".utf8))
        try app.close()
        expected.append(Data("tail".utf8))
        #expect(try client.get(bucket: "big", key: "big.bin") == expected)
        #expect(truncate(path, off_t(33 << 20) + 5) == 0)
        #expect(try client.get(bucket: "big", key: "big.bin") == expected.prefix((33 << 20) + 5))
    }

    /// Past S3's 5 GiB single-PUT limit: the file is one object of many parts, every MiB where it
    /// belongs. Heavy: scripts/test.sh runs it alone after the parallel suite (GT_HEAVY=1).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["GT_HEAVY"] != nil, "heavy: run alone by scripts/test.sh"))
    func aFileLargerThanFiveGiBIsOneObject() throws {
        let (h, client) = try DaemonHarness.started(name: "fuse5g", bucket: "huge")
        defer { _ = try? h.run(["stop"]) }
        var m = try mountBucket(client, "huge")
        let mnt = m.mountpoint
        let path = mnt + "/huge.bin"
        let mib = 5 * 1024 + 3
        var block = Data(count: 1 << 20)
        block.withUnsafeMutableBytes { for i in 0..<$0.count { $0[i] = UInt8.random(in: 0...255) } }
        func stamped(_ i: Int) -> Data {
            var b = block
            b.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64(i).bigEndian) { Data($0) })
            return b
        }

        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let out = try #require(FileHandle(forWritingAtPath: path))
        for i in 0..<mib { out.write(stamped(i)) }
        try out.close()
        #expect(try client.head(bucket: "huge", key: "huge.bin").size == Int64(mib) << 20)
        m.unmount(keepDirectory: true)

        m = try mountBucket(client, "huge", at: mnt)
        defer { m.unmount() }
        let input = try #require(FileHandle(forReadingAtPath: path))
        defer { try? input.close() }
        var wrong: [Int] = []
        for i in 0..<mib where input.readData(ofLength: 1 << 20) != stamped(i) { wrong.append(i) }
        #expect(wrong.isEmpty, "MiB blocks that differ: \(wrong.prefix(10))")
        #expect(input.readData(ofLength: 1).isEmpty)
    }
}
