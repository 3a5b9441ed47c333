import Foundation
import S3
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The block cache through the kernel, on a mount through the daemon's front door: what a mount
/// read or wrote is read again after a remount without a GET, damaged cache files and a full
/// cache disk are misses (never EIO, never wrong bytes), and a new version is never served from
/// the old one's blocks.
@Suite(.serialized, .timeLimit(.minutes(5))) struct BlockCacheMountTests {
    static func random(_ n: Int, seed: UInt64) -> Data {
        var rng = SplitMix64(state: seed)
        var d = Data(count: n)
        d.withUnsafeMutableBytes { p in
            let words = p.bindMemory(to: UInt64.self)
            for i in 0..<words.count { words[i] = rng.next() }
        }
        return d
    }

    /// Whether the file holds exactly `expected` (a plain Bool: a failed `==` of two big `Data`
    /// would have the test library diff them byte by byte, for minutes).
    func holds(_ path: String, _ expected: Data) -> Bool {
        (try? Data(contentsOf: URL(fileURLWithPath: path))) == expected
    }

    func same(_ a: Data?, _ b: Data) -> Bool { a == b }

    func blockFiles(_ dir: String) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: dir) else { return [] }
        return e.compactMap { $0 as? String }.filter { $0.contains("-") && !$0.hasPrefix("tmp") }.map { dir + "/" + $0 }.sorted()
    }

    /// `count` bytes at `at` of the file, by one pread (nil when it fails).
    func preadFile(_ path: String, at: Int, count: Int) -> Data? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var d = Data(count: count)
        let n = d.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(at)) }
        return n == count ? d : nil
    }

    func gets(_ mnt: String) -> Double { mountStat(mnt, "juicefs_object_request_data_bytes_GET") ?? -1 }

    @Test func aRemountReadsFromDiskAndDamagedBlocksAreFetchedAgain() throws {
        let h = try DaemonHarness(name: "blk")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("files", quota: "1G")
        let g = try h.mintGrant("files")
        let client = try h.gatewayClient(g)
        let big = Self.random((6 << 20) + 12345, seed: 1)
        _ = try client.put(bucket: "files", key: "big.bin", body: big)
        let blocks = h.paths.dataDir + "/blocks"

        // First mount: random reads (each fetches the block window around it), then the whole file.
        var (mnt, _) = try h.mountWithGrant(g, bucket: "files")
        for off in [5_000_000, 123, 3_000_000] {
            #expect(same(preadFile(mnt + "/big.bin", at: off, count: 4096), big.subdata(in: off..<off + 4096)))
        }
        #expect(holds(mnt + "/big.bin", big))
        #expect(try h.run(["unmount", mnt]).status == 0)
        let files = blockFiles(blocks)
        #expect(files.count == 7, "one file per MiB block: \(files.count)")

        // Second mount: every byte from the cache, no GET.
        (mnt, _) = try h.mountWithGrant(g, bucket: "files")
        #expect(holds(mnt + "/big.bin", big))
        #expect(gets(mnt) == 0, "a remount fetched \(gets(mnt)) bytes")
        #expect(mountStat(mnt, "garagetytus_blockcache_stored_total") == 0, "blocks read from the cache are not written again")
        #expect((mountStat(mnt, "juicefs_blockcache_hits") ?? 0) > 0, "\((try? String(contentsOfFile: mnt + "/.stats", encoding: .utf8)) ?? "")")
        #expect(try h.run(["unmount", mnt]).status == 0)

        // Damaged files: one byte flipped, one file cut short. The reads are right, each damaged
        // block is fetched again, and the log says what happened.
        var flipped = try Data(contentsOf: URL(fileURLWithPath: files[2]))
        flipped[flipped.count / 2] ^= 0x5a
        try flipped.write(to: URL(fileURLWithPath: files[2]))
        #expect(truncate(files[4], 1000) == 0)
        (mnt, _) = try h.mountWithGrant(g, bucket: "files")
        for off in [(2 << 20) + 10, (4 << 20) + 10] {
            #expect(same(preadFile(mnt + "/big.bin", at: off, count: 4096), big.subdata(in: off..<off + 4096)))
        }
        #expect(holds(mnt + "/big.bin", big))
        #expect(mountStat(mnt, "garagetytus_blockcache_damaged_total") == 2)
        #expect(gets(mnt) > 0 && gets(mnt) <= 4 * Double(big.count), "fetched \(gets(mnt)) bytes")
        #expect(h.mountLogs().contains("does not match its checksum") && h.mountLogs().contains("too short"))

        // Another client writes a new version: once the mount sees it, it reads the new bytes,
        // never the old version's blocks.
        let newer = Self.random(big.count, seed: 2)
        _ = try client.put(bucket: "files", key: "big.bin", body: newer)
        let deadline = Date().addingTimeInterval(10)
        var seen = try Data(contentsOf: URL(fileURLWithPath: mnt + "/big.bin"))
        while seen != newer && Date() < deadline {
            #expect(same(seen, big), "a read of a changing file is one version or the other, whole")
            usleep(200_000)
            seen = try Data(contentsOf: URL(fileURLWithPath: mnt + "/big.bin"))
        }
        #expect(same(seen, newer), "the new version is read once the mount sees it")

        // What the mount writes is in the cache: after a remount it reads without a GET.
        let written = Self.random(3 << 20, seed: 3)
        try written.write(to: URL(fileURLWithPath: mnt + "/written.bin"))
        #expect(try h.run(["unmount", mnt]).status == 0)
        (mnt, _) = try h.mountWithGrant(g, bucket: "files")
        defer { h.forceUnmount(mnt) }
        #expect(holds(mnt + "/written.bin", written))
        #expect(gets(mnt) == 0, "a file written through the mount was fetched again (\(gets(mnt)) bytes)")

        // Another client changes the mode by a metadata-only copy (as s3fs's chmod does) and
        // deletes the other file: both show within the metadata TTL (1 s), the blocks on disk
        // notwithstanding — the mode is new, the bytes are the object's, the deleted file is gone.
        try client.copy(bucket: "files", from: "written.bin", to: "written.bin", metadata: ["mode": "\(0o100600)"])
        try client.delete(bucket: "files", key: "big.bin")
        let seenBy = Date().addingTimeInterval(1.5)
        var st = stat()
        while Date() < seenBy && (stat(mnt + "/written.bin", &st) != 0 || st.st_mode != 0o100600 || FileManager.default.fileExists(atPath: mnt + "/big.bin")) {
            usleep(50_000)
        }
        #expect(stat(mnt + "/written.bin", &st) == 0 && st.st_mode == 0o100600)
        #expect(holds(mnt + "/written.bin", written))
        #expect(open(mnt + "/big.bin", O_RDONLY) == -1 && errno == ENOENT)
    }

    @Test func aSmallCapacityEvictsAFullDiskIsAMissAndTheCacheCanBeTurnedOff() throws {
        let h = try DaemonHarness(name: "blkcap")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("files", quota: "1G")
        let g = try h.mintGrant("files")
        let body = Self.random(40 << 20, seed: 4)
        _ = try h.gatewayClient(g).put(bucket: "files", key: "f.bin", body: body)
        let blocks = h.paths.dataDir + "/blocks"

        // --cache-size 16M: the blocks of a 40 MiB file never take more.
        var (mnt, _) = try h.mountWithGrant(g, bucket: "files", extra: ["--cache-size", "16M"])
        #expect(holds(mnt + "/f.bin", body))
        #expect((mountStat(mnt, "garagetytus_blockcache_bytes") ?? .infinity) <= Double(16 << 20))
        #expect((mountStat(mnt, "garagetytus_blockcache_evicted_total") ?? 0) > 0)
        #expect(try h.run(["unmount", mnt]).status == 0)
        let kept = blockFiles(blocks).reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int) ?? 0) }
        #expect(kept > 0 && kept <= 16 << 20)

        // --no-data-cache: nothing is kept, every read asks the store; bad sizes are refused.
        try FileManager.default.removeItem(atPath: blocks)
        (mnt, _) = try h.mountWithGrant(g, bucket: "files", extra: ["--no-data-cache"])
        #expect(holds(mnt + "/f.bin", body))
        #expect(!FileManager.default.fileExists(atPath: blocks))
        #expect(try String(contentsOfFile: mnt + "/.config", encoding: .utf8).contains("\"data_cache\" : false"))
        #expect(try h.run(["unmount", mnt]).status == 0)
        for bad in [["--cache-size", "1K"], ["--cache-size", "lots"], ["--cache-size", "1G", "--no-data-cache"]] {
            let r = try h.run(["mount", "--endpoint", h.gatewayURL, "--bucket", "files", "--credentials-file", h.home + "/mnt-grant.json"] + bad + [h.home + "/mnt"])
            #expect(r.status != 0 && r.stderr.contains("cache") && r.stderr.split(separator: "\n").count == 1, "\(bad): \(r.stderr)")
        }

        // A cache on a full disk (a 4 MiB tmpfs): the reads are whole and right, the log says why
        // nothing is kept.
        try FileManager.default.createDirectory(atPath: blocks, withIntermediateDirectories: true)
        guard try DaemonHarness.runProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", blocks], env: [:], timeout: 10).status == 0 else {
            Issue.record("cannot mount a tmpfs here: the full-disk case is not checked")
            return
        }
        defer { _ = try? DaemonHarness.runProcess("/bin/umount", [blocks], env: [:], timeout: 10) }
        (mnt, _) = try h.mountWithGrant(g, bucket: "files", extra: ["--cache-size", "64M"])
        defer { h.forceUnmount(mnt) }
        #expect(holds(mnt + "/f.bin", body))
        for off in stride(from: 0, to: body.count - 4096, by: 3_000_017) {
            #expect(same(preadFile(mnt + "/f.bin", at: off, count: 4096), body.subdata(in: off..<off + 4096)))
        }
        #expect(h.mountLogs().contains("of the disk under \(blocks)/") && h.mountLogs().contains("blocks are not kept"), "\(h.mountLogs().suffix(2000))")
        #expect(!h.mountLogs().contains(" error "), "no read failed")
    }

    /// A file read at random is fetched whole, and the kernel is given its pages as they come:
    /// the reads that follow are answered without reaching the mount, with the right bytes; a
    /// write through the mount is read back, not an old page; another client's version replaces
    /// the pages once the mount sees it.
    @Test func aFileReadAtRandomIsReadFromTheKernelsPagesAndNeverStale() throws {
        let h = try DaemonHarness(name: "blkpages")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("files", quota: "1G")
        let g = try h.mintGrant("files")
        let client = try h.gatewayClient(g)
        let body = Self.random(8 << 20, seed: 5)
        _ = try client.put(bucket: "files", key: "r.bin", body: body)
        let (mnt, _) = try h.mountWithGrant(g, bucket: "files")
        defer { h.forceUnmount(mnt) }
        let path = mnt + "/r.bin"
        let fd = open(path, O_RDONLY)
        #expect(fd >= 0)
        defer { close(fd) }
        func pread4k(_ off: Int) -> Data? {
            var d = Data(count: 4096)
            return d.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, 4096, off_t(off)) }) == 4096 ? d : nil
        }
        // Two misses far apart start the whole-object fill.
        #expect(same(pread4k(5 << 20), body.subdata(in: (5 << 20)..<(5 << 20) + 4096)))
        #expect(same(pread4k(100_000), body.subdata(in: 100_000..<104_096)))
        #expect(eventually(timeout: 20) { (mountStat(mnt, "garagetytus_page_cache_handed_bytes_total") ?? 0) >= Double(body.count) },
                "handed to the kernel: \(mountStat(mnt, "garagetytus_page_cache_handed_bytes_total") ?? -1)")
        let readsBefore = mountStat(mnt, "garagetytus_fuse_ops_total{op=\"read\"}") ?? -1
        var rng = SplitMix64(state: 6)
        var right = 0
        for _ in 0..<500 {
            let off = Int(rng.next() % UInt64(body.count - 4096))
            if same(pread4k(off), body.subdata(in: off..<off + 4096)) { right += 1 }
        }
        #expect(right == 500)
        let readsAfter = mountStat(mnt, "garagetytus_fuse_ops_total{op=\"read\"}") ?? -1
        // (reading .stats is itself a read or two)
        #expect(readsAfter - readsBefore <= 4, "500 random reads reached the mount \(readsAfter - readsBefore) times")

        // A write through the mount is what every reader reads, not a page of the fetched version.
        let patch = Self.random(4096, seed: 7)
        let wfd = open(path, O_WRONLY)
        #expect(wfd >= 0 && patch.withUnsafeBytes { pwrite(wfd, $0.baseAddress, 4096, off_t(3 << 20)) } == 4096)
        #expect(close(wfd) == 0)
        var patched = body
        patched.replaceSubrange((3 << 20)..<(3 << 20) + 4096, with: patch)
        #expect(same(pread4k(3 << 20), patch))
        #expect(holds(path, patched))
        #expect(same(try client.get(bucket: "files", key: "r.bin"), patched))

        // Another client's version: read whole once the mount sees it, never with an old page.
        let newer = Self.random(body.count, seed: 8)
        _ = try client.put(bucket: "files", key: "r.bin", body: newer)
        var mixed = false
        #expect(eventually(timeout: 10) {
            let seen = try? Data(contentsOf: URL(fileURLWithPath: path))
            if seen != newer && seen != patched { mixed = true }
            return seen == newer
        })
        #expect(!mixed, "a read was neither version whole")
        #expect(holds(path, newer))
    }
}
