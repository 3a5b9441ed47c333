import Daemon
import Foundation
import Mount
import S3
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

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

    /// The names `readdir(3)` gives (without . and ..), and its errno at the end; `first` is
    /// signalled once 300 were read.
    static func readNames(_ path: String, first: DispatchSemaphore) -> (names: [String], errno: Int32) {
        guard let dir = opendir(path) else { return ([], errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while true {
            errno = 0
            guard let e = Glibc.readdir(dir) else { return (names, errno) }
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
            if names.count == 300 { first.signal() }
        }
    }

    /// A directory's names reach `readdir(3)` a listing page at a time: the first page's while the
    /// second is still on its way; a second page that fails is the failing readdir's error, EIO.
    @Test func aDirectoryIsReadAsItsPagesArriveAndALaterPagesFailureIsEIO() throws {
        let base = InMemoryObjectStore()
        for i in 0..<600 { try base.put(String(format: "d/f%04d", i), data: Data("x".utf8), metadata: [:]) }
        let store = TwoPageStore(inner: base)
        let mnt = try DaemonHarness.makeTempDir(prefix: "/tmp/gt-fusepages-")
        defer { try? FileManager.default.removeItem(atPath: mnt) }
        let vfs = VFS(store: store, options: VFSOptions(metadataTTL: 0, defaults: AttributeDefaults(uid: 0, gid: 0), cacheDir: NSTemporaryDirectory()))
        let mount = try FuseMount(vfs: vfs, mountpoint: mnt)
        defer { mount.unmount() }

        let first = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        nonisolated(unsafe) var got: (names: [String], errno: Int32) = ([], 0)
        DispatchQueue.global().async(group: done) { got = Self.readNames(mnt + "/d", first: first) }
        #expect(first.wait(timeout: .now() + 20) == .success, "the first page's 300 names were read while the second page was held")
        store.secondPage.signal()
        #expect(done.wait(timeout: .now() + 20) == .success)
        #expect(got.errno == 0 && got.names == (0..<600).map { String(format: "f%04d", $0) })

        // The same directory once more (a TTL of 0: the store is asked again), the second page failing.
        store.failSecond.withLock { $0 = true }
        let first2 = DispatchSemaphore(value: 0)
        let done2 = DispatchGroup()
        nonisolated(unsafe) var failed: (names: [String], errno: Int32) = ([], 0)
        DispatchQueue.global().async(group: done2) { failed = Self.readNames(mnt + "/d", first: first2) }
        #expect(first2.wait(timeout: .now() + 20) == .success)
        store.secondPage.signal()
        #expect(done2.wait(timeout: .now() + 20) == .success)
        #expect(failed.errno == EIO && failed.names.count == 300, "\(failed.errno) after \(failed.names.count) names")
    }
}
