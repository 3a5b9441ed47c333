import Daemon
import Foundation
import S3
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Names a filesystem user can type but an object store handles badly: clear errno for what
/// cannot be stored, everything else works, and the mount keeps serving.
@Suite struct MountHostileNamesTests {
    @Test func newlinesLongNamesDeepPathsVirtualNamesAndSymlinkLoops() throws {
        let h = try DaemonHarness(name: "names")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("names")
        let g = try h.mintGrant("names")
        let (mnt, _) = try h.mountWithGrant(g, bucket: "names")
        defer { h.forceUnmount(mnt) }
        let engine = try h.engineClient()
        func errnoOf(_ ok: Bool) -> Int32 { ok ? 0 : errno }

        // Control characters in a name (keys may hold any character but NUL): stored, listed, read,
        // renamed and removed like any other name.
        let odd = ["a\nb", "cr\rx", "tab\there", "bell\u{07}x", "del\u{7F}x", "esc\u{1B}[31m"]
        for n in odd { #expect(posixWrite(mnt + "/" + n, Data(n.utf8)) == 0, "\(n.debugDescription)") }
        #expect(errnoOf(mkdir(mnt + "/dir\u{01}x", 0o755) == 0) == 0)
        #expect(posixWrite(mnt + "/dir\u{01}x/in\nside", Data("deeper".utf8)) == 0)
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: mnt)).isSuperset(of: odd + ["dir\u{01}x"]))
        #expect(try FileManager.default.contentsOfDirectory(atPath: mnt + "/dir\u{01}x") == ["in\nside"])
        for n in odd { #expect(try engine.get(bucket: "names", key: n) == Data(n.utf8), "\(n.debugDescription)") }
        #expect(errnoOf(rename(mnt + "/a\nb", mnt + "/a\nc") == 0) == 0)
        #expect(try String(contentsOfFile: mnt + "/a\nc", encoding: .utf8) == "a\nb")
        for n in odd.dropFirst() + ["a\nc", "dir\u{01}x/in\nside"] { #expect(unlink(mnt + "/" + n) == 0, "\(n.debugDescription)") }
        #expect(rmdir(mnt + "/dir\u{01}x") == 0)
        // The mount's log writes them escaped: one message is one line.
        #expect(!h.mountLogs().contains("\u{1B}"))
        // 255 bytes is the limit of one name; 256 is ENAMETOOLONG.
        let longest = String(repeating: "n", count: 251) + ".txt"
        #expect(posixWrite(mnt + "/" + longest, Data("long".utf8)) == 0)
        #expect(try engine.get(bucket: "names", key: longest) == Data("long".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: mnt).contains(longest))
        #expect(posixWrite(mnt + "/" + String(repeating: "n", count: 256), Data("x".utf8)) == ENAMETOOLONG)
        // Deep paths: 60 levels work; a whole key beyond S3's 1024 bytes is ENAMETOOLONG.
        var deep = mnt
        for i in 0..<60 {
            deep += "/d\(i)"
            #expect(mkdir(deep, 0o755) == 0, "level \(i): errno \(errno)")
        }
        #expect(posixWrite(deep + "/leaf", Data("deep".utf8)) == 0)
        #expect(try String(contentsOfFile: deep + "/leaf", encoding: .utf8) == "deep")
        let deepKey = String(deep.dropFirst(mnt.count + 1)) + "/leaf"
        #expect(try engine.get(bucket: "names", key: deepKey) == Data("deep".utf8))
        // Three 250-byte directory names more, then the whole key is 983 bytes: room for 41.
        var wide = deep
        for c in ["A", "B", "C"] {
            wide += "/" + String(repeating: c, count: 250)
            #expect(mkdir(wide, 0o755) == 0, "errno \(errno)")
        }
        let prefixBytes = wide.utf8.count - mnt.utf8.count  // "/d0/…/CCC" = the key's directory part with its slash
        #expect(prefixBytes == 983)
        #expect(posixWrite(wide + "/" + String(repeating: "f", count: 41), Data("edge".utf8)) == 0)
        #expect(posixWrite(wide + "/" + String(repeating: "g", count: 42), Data("x".utf8)) == ENAMETOOLONG)

        // The virtual files: not replaceable at the top, ordinary names in a subdirectory.
        #expect(posixWrite(mnt + "/plain", Data("p".utf8)) == 0)
        #expect(errnoOf(rename(mnt + "/plain", mnt + "/.stats") == 0) == EEXIST)
        #expect(errnoOf(mkdir(mnt + "/.config", 0o755) == 0) == EEXIST)
        #expect(try String(contentsOfFile: mnt + "/.stats", encoding: .utf8).contains("{"))
        try FileManager.default.createDirectory(atPath: mnt + "/sub", withIntermediateDirectories: true)
        #expect(posixWrite(mnt + "/sub/.stats", Data("mine".utf8)) == 0)
        #expect(try engine.get(bucket: "names", key: "sub/.stats") == Data("mine".utf8))

        // A symlink loop: ELOOP from the kernel, and the mount answers the next request.
        #expect(symlink("loop-b", mnt + "/loop-a") == 0)
        #expect(symlink("loop-a", mnt + "/loop-b") == 0)
        #expect(errnoOf(open(mnt + "/loop-a", O_RDONLY) >= 0) == ELOOP)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: mnt + "/loop-a") == "loop-b")
        #expect(try String(contentsOfFile: mnt + "/plain", encoding: .utf8) == "p")
    }

    /// SeaweedFS writes NextContinuationToken unescaped even in a URL-encoded listing: a page that
    /// ends on a key with a control character XML cannot hold gets U+FFFD in its token, and going on
    /// from that token skips every key between the two. Both mounts — through the daemon and on
    /// the engine's own S3 — list every name.
    @Test func aListingPageEndingOnAControlCharacterGoesOnFromThatKey() throws {
        let h = try DaemonHarness(name: "pages")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("pages")
        let g = try h.mintGrant("pages")
        let client = h.gatewayClient(g)
        // 999 names, then the 1000th (the first page's last) with \u{01}, then two that sort
        // between it and its token's U+FFFD.
        let names = (0..<999).map { String(format: "a%03d", $0) } + ["b\u{01}", "b\u{02}", "bA"]
        DispatchQueue.concurrentPerform(iterations: 8) { w in
            for n in names.enumerated() where n.offset % 8 == w { _ = try? client.put(bucket: "pages", key: "d/" + n.element, body: Data()) }
        }
        #expect(try client.listAll(bucket: "pages", prefix: "d/", delimiter: "/").objects.map(\.key) == names.map { "d/" + $0 })
        let (viaDaemon, _) = try h.mountWithGrant(g, bucket: "pages")
        defer { h.forceUnmount(viaDaemon) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: viaDaemon + "/d").sorted() == names.sorted())
        let plain = try InProcessMount(client: try h.engineClient(), bucket: "pages")
        defer { plain.unmount() }
        #expect(try FileManager.default.contentsOfDirectory(atPath: plain.mountpoint + "/d").sorted() == names.sorted())
    }
}
