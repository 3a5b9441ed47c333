import Daemon
import Foundation
import Mount
import S3
import Testing
import TestSupport

/// Writing through a real FUSE mount onto the real engine: what `close` returned 0 for is in S3,
/// and everything survives an unmount and a new mount.
@Suite(.serialized) struct FuseWriteTests {
    @Test func posixOperationsLandInS3AndSurviveRemount() throws {
        let (h, client) = try DaemonHarness.started(name: "fusew", bucket: "wbucket")
        defer { _ = try? h.run(["stop"]) }
        var m = try InProcessMount(client: client, bucket: "wbucket")
        let mnt = m.mountpoint
        defer { m.unmount() }  // whichever mount is current when the test ends

        // create + write: after close the object is in S3 with the bytes.
        let payload = Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 17) })
        #expect(FileManager.default.createFile(atPath: mnt + "/a.bin", contents: payload))
        #expect(try client.get(bucket: "wbucket", key: "a.bin") == payload)

        // append and overwrite in the middle
        let fh = try FileHandle(forUpdating: URL(fileURLWithPath: mnt + "/a.bin"))
        try fh.seek(toOffset: 10)
        fh.write(Data("MIDDLE".utf8))
        try fh.seekToEnd()
        fh.write(Data("END".utf8))
        try fh.close()
        var expected = payload
        expected.replaceSubrange(10..<16, with: Data("MIDDLE".utf8))
        expected.append(Data("END".utf8))
        #expect(try client.get(bucket: "wbucket", key: "a.bin") == expected)

        // truncate, mkdir, nested files, rename of a file and of a directory, symlink, chmod
        #expect(truncate(mnt + "/a.bin", 1000) == 0)
        #expect(try client.head(bucket: "wbucket", key: "a.bin").size == 1000)
        try FileManager.default.createDirectory(atPath: mnt + "/dir/sub", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: mnt + "/dir/sub/n.txt", contents: Data("nested".utf8)))
        #expect(rename(mnt + "/dir", mnt + "/moved") == 0)
        #expect(try client.get(bucket: "wbucket", key: "moved/sub/n.txt") == Data("nested".utf8))
        #expect(rename(mnt + "/a.bin", mnt + "/moved/a.bin") == 0)
        #expect(Glibc.symlink("moved/a.bin", mnt + "/ln") == 0)
        #expect(chmod(mnt + "/moved/a.bin", 0o600) == 0)
        #expect(try client.head(bucket: "wbucket", key: "moved/a.bin").metadata["mode"] == String(0o100600))
        // rmdir of a non-empty directory, and hard links, are refused clearly (FIFOs and devices
        // are kept: FuseSpecialFilesTests).
        #expect(rmdir(mnt + "/moved") == -1 && errno == ENOTEMPTY)
        // ENOTSUP is the mount's own answer: a filesystem without `link` at all gives EPERM.
        #expect(link(mnt + "/moved/a.bin", mnt + "/hard") == -1 && errno == ENOTSUP)
        #expect(renameExchange(mnt + "/moved/a.bin", mnt + "/moved") == EINVAL)
        #expect(FileManager.default.fileExists(atPath: mnt + "/moved/a.bin") && !FileManager.default.fileExists(atPath: mnt + "/hard"))

        // A missing name is remembered by the kernel for the TTL: probing it again costs no lookup.
        func lookups() throws -> Int {
            let stats = try String(contentsOfFile: mnt + "/.stats", encoding: .utf8)
            let line = stats.split(separator: "\n").first { $0.hasPrefix("garagetytus_fuse_ops_total{op=\"lookup\"}") }
            return Int(line?.split(separator: " ").last ?? "") ?? -1
        }
        let cachedAt = Date()  // before the first probe: the negative entry cannot be older
        #expect(!FileManager.default.fileExists(atPath: mnt + "/probe.h"))
        let afterFirst = try lookups()
        for _ in 0..<20 { _ = FileManager.default.fileExists(atPath: mnt + "/probe.h") }
        // + 1: reading .stats looks it up (it is never cached; a lookup is counted before it is
        // answered); on a machine so busy that the probes outlast the 1 s TTL, one more lookup per
        // TTL begun (without the cache: + 21).
        let expired = Int(Date().timeIntervalSince(cachedAt).rounded(.up))
        let probed = try lookups() - afterFirst
        #expect(probed >= 1 && probed <= 1 + expired, "\(probed) lookups for 20 probes in \(expired) s")
        #expect(FileManager.default.createFile(atPath: mnt + "/probe.h", contents: Data("now here".utf8)))  // clears it
        #expect(try String(contentsOfFile: mnt + "/probe.h", encoding: .utf8) == "now here")

        // Objects written by another S3 client show up (after the metadata TTL).
        try client.put(bucket: "wbucket", key: "external.txt", body: Data("from aws".utf8))
        #expect(eventually(timeout: 3) { (try? String(contentsOfFile: mnt + "/external.txt", encoding: .utf8)) == "from aws" })
        // …and so do their new bytes for a file the kernel has cached pages of (same size, new ETag).
        #expect(try String(contentsOfFile: mnt + "/external.txt", encoding: .utf8) == "from aws")
        try client.put(bucket: "wbucket", key: "external.txt", body: Data("from AWS".utf8))
        #expect(eventually(timeout: 3) { (try? String(contentsOfFile: mnt + "/external.txt", encoding: .utf8)) == "from AWS" })

        m.unmount(keepDirectory: true)
        m = try InProcessMount(client: client, bucket: "wbucket", at: mnt)
        let top = try FileManager.default.contentsOfDirectory(atPath: mnt).sorted()
        let inS3 = try client.listAll(bucket: "wbucket", delimiter: "/")
        #expect(top == ["external.txt", "ln", "moved", "probe.h"], "\(top) / S3: \(inS3.objects.map(\.key)) \(inS3.commonPrefixes)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: mnt + "/moved/a.bin")) == expected.prefix(1000))
        #expect(try FileManager.default.attributesOfItem(atPath: mnt + "/moved/a.bin")[.posixPermissions] as? Int == 0o600)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: mnt + "/ln") == "moved/a.bin")
        #expect(try String(contentsOfFile: mnt + "/moved/sub/n.txt", encoding: .utf8) == "nested")
    }

    /// What pjdfstest found (truncate/00, ftruncate/00 and /12, rename/09 and /10): a truncate by
    /// path right after a create (whose release the kernel sends later) is stored; one past S3's
    /// largest object is `EFBIG` and changes nothing; an `ftruncate`'s new mtime is seen as soon
    /// as `close` returns; a directory renamed over an empty one keeps its name and contents.
    @Test func truncatesAfterCreatesAndDirectoriesRenamedOverEmptyOnes() throws {
        let (h, client) = try DaemonHarness.started(name: "fusepjd", bucket: "pjd")
        defer { _ = try? h.run(["stop"]) }
        var m = try InProcessMount(client: client, bucket: "pjd")
        let mnt = m.mountpoint
        defer { m.unmount() }
        var st = stat()
        for i in 0..<20 {
            let path = mnt + "/c\(i)"
            let fd = open(path, O_CREAT | O_WRONLY, 0o644)
            #expect(fd >= 0 && close(fd) == 0)
            #expect(truncate(path, 1_234_567) == 0)
            #expect(lstat(path, &st) == 0 && st.st_size == 1_234_567, "c\(i): \(st.st_size)")
            #expect(try client.head(bucket: "pjd", key: "c\(i)").size == 1_234_567, "c\(i)")
        }
        #expect(truncate(mnt + "/c0", 999_999_999_999_999) == -1 && errno == EFBIG)
        #expect(lstat(mnt + "/c0", &st) == 0 && st.st_size == 1_234_567)

        var old = [timespec(tv_sec: 1000, tv_nsec: 0), timespec(tv_sec: 1000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, mnt + "/c1", &old, 0) == 0)
        let started = time(nil)
        let fd = open(mnt + "/c1", O_RDWR)
        #expect(fd >= 0 && ftruncate(fd, 123) == 0 && close(fd) == 0)
        #expect(lstat(mnt + "/c1", &st) == 0 && st.st_size == 123 && st.st_mtim.tv_sec >= started - 1, "mtime \(st.st_mtim.tv_sec)")

        #expect(mkdir(mnt + "/a", 0o755) == 0 && mkdir(mnt + "/b", 0o755) == 0)
        #expect(FileManager.default.createFile(atPath: mnt + "/a/f", contents: Data("F".utf8)))
        #expect(lstat(mnt + "/a", &st) == 0)
        let ino = st.st_ino
        #expect(rename(mnt + "/a", mnt + "/b") == 0)
        #expect(lstat(mnt + "/b", &st) == 0 && st.st_ino == ino && lstat(mnt + "/a", &st) == -1)
        // An empty one over an empty one: nothing but its marker keeps it.
        #expect(mkdir(mnt + "/e1", 0o700) == 0 && mkdir(mnt + "/e2", 0o755) == 0)
        #expect(rename(mnt + "/e1", mnt + "/e2") == 0)
        #expect(lstat(mnt + "/e2", &st) == 0 && st.st_mode & 0o777 == 0o700)
        #expect((try? client.head(bucket: "pjd", key: "e2/")) != nil)
        m.unmount(keepDirectory: true)
        m = try InProcessMount(client: client, bucket: "pjd", at: mnt)
        #expect(try String(contentsOfFile: mnt + "/b/f", encoding: .utf8) == "F")
        #expect(rmdir(mnt + "/b") == -1 && errno == ENOTEMPTY)
        #expect(try FileManager.default.contentsOfDirectory(atPath: mnt).filter { !$0.hasPrefix("c") }.sorted() == ["b", "e2"])
    }

    /// Every `fork`/`posix_spawn` of a process that has a file open for writing gives the child a
    /// copy of the descriptor, and the child's `close` (at the latest when it exits) is a FLUSH of
    /// the file. That must not store the half-written file: only the writer's `close` does.
    /// Content-Type from the name (as s3fs sets it), never the engine's sniffed guess with a
    /// charset nobody asked for; kept by chmod, given to multipart uploads too.
    @Test func newObjectsGetTheirContentTypeFromTheirName() throws {
        let (h, client) = try DaemonHarness.started(name: "fusect", bucket: "types")
        defer { _ = try? h.run(["stop"]) }
        let m = try InProcessMount(client: client, bucket: "types")
        defer { m.unmount() }
        let files = ["page.html": "text/html", "notes.TXT": "text/plain", "a.tar.gz": "application/gzip",
                     "a.gz.unknownext": "application/gzip", "noext": "application/octet-stream", "x.unknownext": "application/octet-stream"]
        // open/write/close (FileManager writes a temporary name and renames it: see below).
        func create(_ name: String, _ bytes: Data) {
            let fd = open(m.mountpoint + "/" + name, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
            #expect(fd >= 0 && bytes.withUnsafeBytes { write(fd, $0.baseAddress, bytes.count) } == bytes.count && close(fd) == 0, "\(name)")
        }
        for name in files.keys.sorted() { create(name, Data("<p>hello</p>\n".utf8)) }
        for (name, type) in files {
            let got = try client.head(bucket: "types", key: name).contentType
            #expect(got == type, "\(name): \(got ?? "none")")
        }
        #expect(chmod(m.mountpoint + "/page.html", 0o600) == 0)
        let after = try client.head(bucket: "types", key: "page.html")
        #expect(after.contentType == "text/html" && after.metadata["mode"] == String(0o100600))
        // Above the multipart threshold.
        create("big.json", Data(repeating: 0x7B, count: Int(S3ObjectStore.multipartThreshold) + 1))
        #expect(try client.head(bucket: "types", key: "big.json").contentType == "application/json")
        // A rename gives the object the type of its new name, as s3fs does (with its new ctime).
        #expect(rename(m.mountpoint + "/page.html", m.mountpoint + "/page.txt") == 0)
        let renamed = try client.head(bucket: "types", key: "page.txt")
        #expect(renamed.contentType == "text/plain" && renamed.metadata["mode"] == String(0o100600))
    }

    /// A chmod, chown or touch of an object another tool stored keeps what that tool stored: its
    /// own metadata keys, Cache-Control, Content-Encoding and the like, and its Content-Type; a
    /// rename keeps them too and gives the new name's type (as s3fs does).
    @Test func attributeChangesKeepWhatOtherToolsStored() throws {
        let (h, client) = try DaemonHarness.started(name: "fusekeep", bucket: "keep")
        defer { _ = try? h.run(["stop"]) }
        let m = try InProcessMount(client: client, bucket: "keep")
        defer { m.unmount() }
        let headers = ["cache-control": "max-age=60", "content-encoding": "gzip", "content-disposition": "attachment",
                       "content-language": "de"]
        try client.put(bucket: "keep", key: "site.js", body: Data("x".utf8), metadata: ["md5chksum": "abc", "mode": String(0o100644)],
                       contentType: "text/javascript; charset=utf-8", representation: headers)
        #expect(chmod(m.mountpoint + "/site.js", 0o600) == 0)
        var times = [timespec(tv_sec: 1000, tv_nsec: 0), timespec(tv_sec: 2000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, m.mountpoint + "/site.js", &times, 0) == 0)
        var after = try client.head(bucket: "keep", key: "site.js")
        #expect(after.metadata["mode"] == String(0o100600) && after.metadata["mtime"] == "2000" && after.metadata["md5chksum"] == "abc", "\(after.metadata)")
        #expect(after.contentType == "text/javascript; charset=utf-8" && after.headers == headers, "\(after)")
        #expect(rename(m.mountpoint + "/site.js", m.mountpoint + "/site.txt") == 0)
        after = try client.head(bucket: "keep", key: "site.txt")
        #expect(after.metadata["mode"] == String(0o100600) && after.metadata["md5chksum"] == "abc", "\(after.metadata)")
        #expect(after.contentType == "text/plain" && after.headers == headers, "\(after)")
    }

    @Test func aChildClosingAnInheritedDescriptorDoesNotStoreAHalfWrittenFile() throws {
        let (h, client) = try DaemonHarness.started(name: "fusei", bucket: "inherit")
        defer { _ = try? h.run(["stop"]) }
        let m = try InProcessMount(client: client, bucket: "inherit")
        let mnt = m.mountpoint
        defer { m.unmount() }

        let fd = open(mnt + "/f.bin", O_WRONLY | O_CREAT | O_TRUNC, 0o644)  // no O_CLOEXEC: children inherit it
        #expect(fd >= 0)
        let first = randomData(3 << 20), rest = randomData(6 << 20)
        #expect(first.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) } == first.count)
        // SAFETY: argv is built from strdup'ed strings freed after the spawn; the child runs /bin/true.
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { argv.forEach { free($0) } }
        #expect(posix_spawn(&pid, "/bin/true", nil, nil, argv, environ) == 0)
        var status: Int32 = 0
        #expect(waitpid(pid, &status, 0) == pid)  // its exit closed the inherited descriptor
        #expect((try? client.head(bucket: "inherit", key: "f.bin")) == nil, "the child's close stored the half-written file")

        #expect(rest.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) } == rest.count)
        #expect(close(fd) == 0)
        #expect(try client.get(bucket: "inherit", key: "f.bin") == first + rest)
    }
}

/// renameat2(2) with RENAME_EXCHANGE: 0 or its errno. Glibc's wrapper is not in Swift's Glibc module.
func renameExchange(_ a: String, _ b: String) -> Int32 {
    typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
    guard let symbol = dlsym(nil, "renameat2") else { return ENOSYS }
    // SAFETY: glibc's renameat2 has exactly this C signature (int, const char *, int, const char *, unsigned int).
    let renameat2 = unsafeBitCast(symbol, to: RenameAt2.self)
    return renameat2(AT_FDCWD, a, AT_FDCWD, b, 2 /* RENAME_EXCHANGE */) == 0 ? 0 : errno
}
