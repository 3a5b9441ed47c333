import Daemon
import Foundation
import Mount
import S3
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// atime, mtime and ctime through the kernel on the real engine, as POSIX has them where S3 can
/// hold them: each set alone, ctime for every change, kept in s3fs's metadata names across a
/// remount; a directory's times follow its entries; the mount's own root takes `touch`.
@Suite(.serialized) struct FuseTimesTests {
    static let omit = 1 << 30 - 2  // UTIME_OMIT (a macro Swift does not import)

    /// utimensat(2) with `atime`/`mtime` in whole seconds, nil to leave it: 0 or errno.
    static func setTimes(_ path: String, atime: Int?, mtime: Int?) -> Int32 {
        let times = [timespec(tv_sec: atime ?? 0, tv_nsec: atime == nil ? omit : 0),
                     timespec(tv_sec: mtime ?? 0, tv_nsec: mtime == nil ? omit : 0)]
        return utimensat(AT_FDCWD, path, times, 0) == 0 ? 0 : errno
    }

    static func times(_ path: String) -> (atime: Int, mtime: Int, ctime: Int)? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return (st.st_atim.tv_sec, st.st_mtim.tv_sec, st.st_ctim.tv_sec)
    }

    @Test func eachTimeChangesAloneAndSurvivesARemount() throws {
        let (h, client) = try DaemonHarness.started(name: "fuset", bucket: "times")
        defer { _ = try? h.run(["stop"]) }
        var m = try InProcessMount(client: client, bucket: "times")
        let mnt = m.mountpoint
        defer { m.unmount() }
        let f = mnt + "/f.txt"
        let started = Int(Date().timeIntervalSince1970)
        // Written in place (FileManager.createFile writes a temporary file and renames it, and a
        // rename sets ctime).
        try Data("x".utf8).write(to: URL(fileURLWithPath: f))
        let fresh = try #require(Self.times(f))
        // Created at one second, stored at close (maybe the next): atime is the creation, mtime and
        // ctime the write, as POSIX has it.
        #expect(fresh.atime <= fresh.mtime && fresh.ctime == fresh.mtime && fresh.atime >= started - 1, "\(fresh)")

        // `touch -m -d` (cp -p does the same): mtime alone; ctime is now.
        let t0 = 1_600_000_000, t1 = 1_650_000_000
        #expect(Self.setTimes(f, atime: nil, mtime: t0) == 0)
        var t = try #require(Self.times(f))
        #expect(t.mtime == t0 && t.atime == fresh.atime && t.ctime >= started - 1, "\(t)")
        // `touch -a -d`: atime alone.
        #expect(Self.setTimes(f, atime: t1, mtime: nil) == 0)
        t = try #require(Self.times(f))
        #expect(t.atime == t1 && t.mtime == t0 && t.ctime >= started - 1, "\(t)")
        // chmod, chown and rename change ctime only (a rename keeps what other tools stored).
        #expect(chmod(f, 0o600) == 0 && chown(f, 4242, 4343) == 0)
        t = try #require(Self.times(f))
        #expect(t.atime == t1 && t.mtime == t0 && t.ctime >= started - 1, "\(t)")
        var stored = try client.head(bucket: "times", key: "f.txt").metadata
        stored["ctime"] = "\(t0)"
        stored["origin"] = "another tool"
        try client.copy(bucket: "times", from: "f.txt", to: "f.txt", metadata: stored)
        #expect(rename(f, mnt + "/g.txt") == 0)
        let g = mnt + "/g.txt"
        #expect(Self.times(g).map { $0.atime == t1 && $0.mtime == t0 && $0.ctime >= started - 1 } == true, "\(String(describing: Self.times(g)))")
        // In the object, under s3fs's names.
        let meta = try client.head(bucket: "times", key: "g.txt").metadata
        #expect(meta["mtime"] == "\(t0)" && meta["atime"] == "\(t1)" && Int(meta["ctime"] ?? "").map { $0 >= started - 1 } == true, "\(meta)")
        #expect(meta["origin"] == "another tool")

        // A directory's mtime and ctime follow its entries (in the mount's memory).
        try FileManager.default.createDirectory(atPath: mnt + "/d", withIntermediateDirectories: false)
        for (what, op) in [("create", { FileManager.default.createFile(atPath: mnt + "/d/a", contents: Data()) }),
                           ("mkdir", { mkdir(mnt + "/d/sub", 0o755) == 0 }),
                           ("rename in", { rename(g, mnt + "/d/g.txt") == 0 }),
                           ("unlink", { unlink(mnt + "/d/a") == 0 }),
                           ("rmdir", { rmdir(mnt + "/d/sub") == 0 })] as [(String, () -> Bool)] {
            #expect(Self.setTimes(mnt + "/d", atime: nil, mtime: t0) == 0, "\(what)")
            #expect(Self.times(mnt + "/d")?.mtime == t0)
            #expect(op(), "\(what)")
            let d = try #require(Self.times(mnt + "/d"))
            #expect(d.mtime >= started - 1 && d.ctime >= started - 1, "\(what): \(d)")
        }
        // The mount's own root takes `touch` (it has no marker to store: kept while mounted).
        #expect(Self.setTimes(mnt, atime: t1, mtime: t0) == 0)
        #expect(Self.times(mnt).map { $0.mtime == t0 && $0.atime == t1 } == true)
        #expect(chmod(mnt, 0o750) == 0)

        m.unmount(keepDirectory: true)
        m = try InProcessMount(client: client, bucket: "times", at: mnt)
        t = try #require(Self.times(mnt + "/d/g.txt"))
        #expect(t.atime == t1 && t.mtime == t0 && t.ctime >= started - 1, "after a remount: \(t)")
    }
}
