import Daemon
import Foundation
import Mount
import S3
import Synchronization
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Load held: 32 S3 clients through the gateway (mixed PUT/GET/LIST/DELETE, 4 KiB to 64 MiB)
/// and 8 writers plus 8 readers through one mount, at the same time. Zero errors, zero corrupted
/// objects, memory and descriptors of the daemon and the mount flat after warm-up.
/// Runs alone (GT_HEAVY=1, from scripts/test.sh) for GT_SOAK_SECONDS (60 by default; bench/soak.sh
/// runs the 10-minute version).
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["GT_HEAVY"] != nil))
struct SoakTests {
    static let seconds = Double(ProcessInfo.processInfo.environment["GT_SOAK_SECONDS"] ?? "") ?? 60
    /// Object sizes, the big ones rarer (one PUT in 50 is 64 MiB).
    static let sizes = [4 << 10, 4 << 10, 64 << 10, 64 << 10, 512 << 10, 512 << 10, 4 << 20, 16 << 20]

    /// What one S3 client has stored: key → SHA-256.
    final class Owned: Sendable {
        let keys = Mutex<[String: String]>([:])
    }

    /// Each client keeps at most this many objects (a PUT beyond it deletes one instead), so the
    /// data held stay a few GiB however long the soak runs (about 4 GiB for 32 clients).
    static let heldPerClient = 32

    static func s3Client(_ w: Int, _ i: Int, client: S3Client, owned: Owned, log: LatencyLog) {
        let mine = owned.keys.withLock { $0 }
        var roll = Int.random(in: 0..<10)
        if roll < 4 && mine.count >= heldPerClient { roll = 9 }
        let bucket = "soak"
        if roll < 4 || mine.isEmpty {
            let size = Int.random(in: 0..<50) == 0 ? 64 << 20 : sizes.randomElement()!
            let key = "c\(w)/k\(i)"
            let data = randomData(size)
            log.time("PUT", bytes: size) {
                _ = try client.put(bucket: bucket, key: key, body: data)
                owned.keys.withLock { $0[key] = SigV4.sha256Hex(data) }
            }
        } else if roll < 7 {
            let (key, sha) = mine.randomElement()!
            log.time("GET") {
                let data = try client.get(bucket: bucket, key: key)
                if SigV4.sha256Hex(data) != sha { log.error("corrupt: \(key) read back \(data.count) bytes with another hash") }
            }
        } else if roll < 9 {
            log.time("LIST") {
                let listed = Set(try client.listAll(bucket: bucket, prefix: "c\(w)/").objects.map(\.key))
                if listed != Set(mine.keys) { log.error("LIST c\(w)/: \(listed.count) keys, expected \(mine.count)") }
            }
        } else {
            let key = mine.keys.randomElement()!
            log.time("DELETE") {
                try client.delete(bucket: bucket, key: key)
                owned.keys.withLock { _ = $0.removeValue(forKey: key) }
            }
        }
    }

    @Test func thirtyTwoS3ClientsAndSixteenMountUsersHoldWithoutErrorsOrGrowth() throws {
        let h = try DaemonHarness(name: "soak")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("soak", quota: "40G")
        let g = try h.mintGrant("soak", ttl: "24h")
        let (mnt, _) = try h.mountWithGrant(g, bucket: "soak")
        defer { h.forceUnmount(mnt) }
        let direct = h.gatewayClient(g)
        // What the mount readers read: written through the gateway, checked by hash on every read.
        var readSet: [(String, String)] = []
        for i in 0..<16 {
            let data = randomData([256 << 10, 1 << 20, 8 << 20, 3 << 20][i % 4])
            _ = try direct.put(bucket: "soak", key: "readset/r\(i)", body: data)
            readSet.append(("readset/r\(i)", SigV4.sha256Hex(data)))
        }
        try FileManager.default.createDirectory(atPath: mnt + "/w", withIntermediateDirectories: true)
        let frozenReadSet = readSet

        let s3Log = LatencyLog(), mountLog = LatencyLog()
        let daemonSampler = ProcessSampler(pid: try h.daemonPID())
        let mountSampler = ProcessSampler(pid: try #require(h.mountPID(mnt)), boundedUnder: h.home + "/data/blocks")
        let owned = (0..<32).map { _ in Owned() }
        let client = h.gatewayClient(g, timeout: 300)
        let started = Date()
        let s3 = Workers(count: 32) { w, i in Self.s3Client(w, i, client: client, owned: owned[w], log: s3Log) }
        let fs = Workers(count: 16) { w, i in
            if w < 8 {
                let path = mnt + "/w/\(w)-\(i)"
                let data = randomData([4 << 10, 256 << 10, 2 << 20, 8 << 20][(w + i) % 4])
                mountLog.time("write+close", bytes: data.count) {
                    let e = posixWrite(path, data)
                    if e != 0 { throw POSIXError(POSIXErrorCode(rawValue: e) ?? .EIO) }
                }
                if i % 4 == 0 {
                    mountLog.time("read back") {
                        let back = try Data(contentsOf: URL(fileURLWithPath: path))
                        if back != data { mountLog.error("corrupt: \(path) read back differs") }
                    }
                }
                // Bounded space: each writer keeps its last three files.
                if i >= 3, unlink(mnt + "/w/\(w)-\(i - 3)") != 0 { mountLog.error("unlink \(w)-\(i - 3): errno \(errno)") }
            } else {
                let (key, sha) = frozenReadSet.randomElement()!
                mountLog.time("read") {
                    let data = try Data(contentsOf: URL(fileURLWithPath: mnt + "/" + key))
                    if SigV4.sha256Hex(data) != sha { mountLog.error("corrupt: \(key) read through the mount") }
                }
            }
        }
        while Date().timeIntervalSince(started) < Self.seconds { usleep(500_000) }
        #expect(s3.finish(timeout: 600))
        #expect(fs.finish(timeout: 600))
        let elapsed = Date().timeIntervalSince(started)
        let (daemonSamples, mountSamples) = (daemonSampler.stop(), mountSampler.stop())

        #expect(s3Log.errorList.isEmpty, "\(s3Log.errorList.prefix(10))")
        #expect(mountLog.errorList.isEmpty, "\(mountLog.errorList.prefix(10))")
        // Everything the clients still own is there, whole.
        let check = h.gatewayClient(g)
        var wrong = 0
        for o in owned {
            for (key, sha) in o.keys.withLock({ $0 }) where (try? check.get(bucket: "soak", key: key)).map(SigV4.sha256Hex) != sha {
                wrong += 1
                Issue.record("\(key): missing or not the bytes written")
            }
        }
        // Too few samples to tell growth (nil) fails the check.
        let rss = (ProcessSampler.growth(daemonSamples, \.rssKiB) ?? .infinity, ProcessSampler.growth(mountSamples, \.rssKiB) ?? .infinity)
        let fds = (ProcessSampler.growth(daemonSamples, \.fds) ?? .infinity, ProcessSampler.growth(mountSamples, \.fds) ?? .infinity)
        #expect(rss.0 <= 1.2 && rss.1 <= 1.2, "RSS growth after warm-up: daemon \(rss.0), mount \(rss.1) (\(daemonSamples.count) / \(mountSamples.count) samples)")
        #expect(fds.0 <= 1.2 && fds.1 <= 1.2, "descriptor growth after warm-up: daemon \(fds.0), mount \(fds.1)")
        // The block cache keeps the files it read last open, up to its bound: that is not a leak,
        // but more than the bound is (a writer's file in flight may add one).
        let blockFds = mountSamples.map(\.boundedFds).max() ?? 0
        #expect(blockFds <= BlockCache.openFilesLimit + 1, "the mount held \(blockFds) block files open")
        let errors = s3Log.errorList.count + mountLog.errorList.count
        let corrupt = (s3Log.errorList + mountLog.errorList).filter { $0.contains("corrupt") }.count + wrong

        func peak(_ s: [ProcessSampler.Sample]) -> String { "\((s.map(\.rssKiB).max() ?? 0) >> 10) MiB" }
        print(String(format: "soak: %.0f s; gateway %d ops, %.1f MiB/s written; mount %d ops, %.1f MiB/s written; %d errors, %d corrupt",
                     elapsed, s3Log.count, Double(s3Log.totalBytes) / elapsed / 1048576,
                     mountLog.count, Double(mountLog.totalBytes) / elapsed / 1048576, errors, corrupt))
        for line in s3Log.summary() { print("soak: gateway \(line)") }
        for line in mountLog.summary() { print("soak: mount \(line)") }
        print(String(format: "soak: peak RSS daemon %@ (growth %.2f), mount %@ (growth %.2f); descriptor growth %.2f / %.2f; block files open at most %d",
                     peak(daemonSamples), rss.0, peak(mountSamples), rss.1, fds.0, fds.1, blockFds))
    }
}
