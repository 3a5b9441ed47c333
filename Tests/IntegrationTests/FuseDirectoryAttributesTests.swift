import CGaragetytus
import Daemon
import Foundation
import Mount
import S3
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A directory's mode, owner, times and extended attributes through the daemon: SeaweedFS's S3
/// API drops a `dir/` marker's metadata, so the daemon keeps them on the directory's filer entry
/// and its listings give them back — a remount finds them, by name and in `ls -l`.
@Suite(.serialized) struct FuseDirectoryAttributesTests {
    @Test func directoryAttributesSurviveARemountThroughTheDaemon() throws {
        let h = try DaemonHarness(name: "fused")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("dirs")
        let client = h.gatewayClient(try h.mintGrant("dirs"))
        func mount(at existing: String? = nil) throws -> InProcessMount {
            try InProcessMount(client: client, bucket: "dirs", at: existing) { $0.extendedAttributes = true }
        }
        var m = try mount()
        let mnt = m.mountpoint
        defer { m.unmount() }
        let t0 = 1_600_000_000
        try FileManager.default.createDirectory(atPath: mnt + "/private/shared", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: mnt + "/private/f.txt", contents: Data("x".utf8)))
        #expect(chmod(mnt + "/private", 0o700) == 0 && chown(mnt + "/private", 1234, 5678) == 0)
        #expect(chmod(mnt + "/private/shared", 0o1777) == 0)
        #expect(setxattr(mnt + "/private", "user.owner", "team-a", 6, 0) == 0)
        #expect(FuseTimesTests.setTimes(mnt + "/private", atime: nil, mtime: t0) == 0)
        // An empty directory keeps its attributes too (its marker is all there is of it).
        #expect(mkdir(mnt + "/empty", 0o750) == 0)

        func check(_ when: String) throws {
            var st = stat()
            #expect(lstat(mnt + "/private", &st) == 0, "\(when)")
            #expect(st.st_mode == S_IFDIR | 0o700 && st.st_uid == 1234 && st.st_gid == 5678, "\(when): \(String(st.st_mode, radix: 8)) \(st.st_uid):\(st.st_gid)")
            #expect(st.st_mtim.tv_sec == t0, "\(when): mtime \(st.st_mtim.tv_sec)")
            #expect(lstat(mnt + "/private/shared", &st) == 0 && st.st_mode == S_IFDIR | 0o1777, "\(when): \(String(st.st_mode, radix: 8))")
            #expect(lstat(mnt + "/empty", &st) == 0 && st.st_mode == S_IFDIR | 0o750, "\(when): \(String(st.st_mode, radix: 8))")
            var buf = [UInt8](repeating: 0, count: 32)
            let n = getxattr(mnt + "/private", "user.owner", &buf, 32)
            #expect(n == 6 && String(decoding: buf.prefix(6), as: UTF8.self) == "team-a", "\(when)")
        }
        try check("set")
        // After a remount, looked up by name first…
        m.unmount(keepDirectory: true)
        m = try mount(at: mnt)
        try check("after a remount, by name")
        // …and listed first (`ls -l`: the listing carries them, no lookup asks the store).
        m.unmount(keepDirectory: true)
        m = try mount(at: mnt)
        #expect(try FileManager.default.contentsOfDirectory(atPath: mnt).sorted() == ["empty", "private"])
        try check("after a remount, listed")
        // A chmod back is stored as well, and a marker PUT without metadata by another S3 client clears them.
        #expect(chmod(mnt + "/empty", 0o755) == 0)
        m.unmount(keepDirectory: true)
        _ = try client.put(bucket: "dirs", key: "private/", body: Data())
        m = try mount(at: mnt)
        var st = stat()
        #expect(lstat(mnt + "/empty", &st) == 0 && st.st_mode == S_IFDIR | 0o755)
        #expect(lstat(mnt + "/private", &st) == 0 && st.st_mode == S_IFDIR | 0o755 && st.st_uid == 0, "\(String(st.st_mode, radix: 8)) \(st.st_uid)")
    }
}
