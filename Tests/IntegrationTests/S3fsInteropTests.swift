import CGaragetytus
import Credentials
import Daemon
import Foundation
import Mount
import S3
import Testing
import TestSupport

/// s3fs (the Debian package) and our mount on the same bucket: each sees the other's bytes,
/// modes, directories, symlinks, FIFOs and extended attributes, because both keep POSIX
/// attributes under s3fs's names (both with extended attributes turned on: `-o use_xattr`, `--xattr`).
@Suite(.serialized) struct S3fsInteropTests {
    static var s3fsPath: String? {
        ["/usr/bin/s3fs", "/usr/local/bin/s3fs"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func isMounted(_ path: String, type: String) -> Bool {
        MountTable.entries(at: path).contains { $0.fsType == type }
    }

    @Test(.enabled(if: s3fsPath != nil, "s3fs is not installed (scripts/setup.sh installs it)"))
    func s3fsAndTheMountAgreeOnBytesModesDirectoriesSymlinksFifosAndXattrs() throws {
        let h = try DaemonHarness(name: "s3fs")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        // Both go through the S3 front door with one grant, as users would.
        try h.createBucket("both")
        let grant = try h.mintGrant("both", perms: "read,write,list,delete")
        let client = S3Client(endpoint: URL(string: h.gatewayURL)!, credentials: .init(accessKeyID: grant.accessKey, secretAccessKey: grant.secretKey))

        let passwd = h.home + "/s3fs.passwd"
        try SecretFile.write(Data("\(grant.accessKey):\(grant.secretKey)\n".utf8), to: passwd)
        let theirs = h.home + "/s3fs-mnt", ours = h.home + "/gt-mnt"
        for d in [theirs, ours] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        let s3fs = Process()
        s3fs.executableURL = URL(fileURLWithPath: Self.s3fsPath!)
        s3fs.arguments = ["both", theirs, "-f", "-o", "url=\(h.gatewayURL)", "-o", "use_path_request_style",
                          "-o", "endpoint=us-east-1", "-o", "passwd_file=\(passwd)", "-o", "sigv4", "-o", "dbglevel=warn",
                          "-o", "stat_cache_expire=1", "-o", "use_xattr"]
        s3fs.standardOutput = FileHandle.nullDevice
        s3fs.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try s3fs.run()
        defer {
            _ = try? DaemonHarness.runProcess("/bin/fusermount3", ["-u", theirs], env: [:], timeout: 10)
            if s3fs.isRunning { s3fs.terminate() }
            s3fs.waitUntilExit()
        }
        #expect(try eventually(timeout: 20) { Self.isMounted(theirs, type: "fuse.s3fs") })

        var options = VFSOptions(defaults: AttributeDefaults(uid: 0, gid: 0), cacheDir: h.home)
        options.extendedAttributes = true
        let vfs = VFS(store: S3ObjectStore(client: client, bucket: "both"), options: options)
        let mount = try FuseMount(vfs: vfs, mountpoint: ours)
        defer { mount.unmount() }
        let fm = FileManager.default

        // s3fs writes; the mount reads bytes, mode, directory and symlink.
        try fm.createDirectory(atPath: theirs + "/by-s3fs", withIntermediateDirectories: false)
        #expect(fm.createFile(atPath: theirs + "/by-s3fs/f.txt", contents: Data("from s3fs\n".utf8), attributes: [.posixPermissions: 0o600]))
        try fm.createSymbolicLink(atPath: theirs + "/by-s3fs/ln", withDestinationPath: "f.txt")
        #expect(try eventually(timeout: 10) { fm.fileExists(atPath: ours + "/by-s3fs/ln") })
        #expect(try String(contentsOfFile: ours + "/by-s3fs/f.txt", encoding: .utf8) == "from s3fs\n")
        #expect(try fm.attributesOfItem(atPath: ours + "/by-s3fs/f.txt")[.posixPermissions] as? Int == 0o600)
        #expect(try fm.destinationOfSymbolicLink(atPath: ours + "/by-s3fs/ln") == "f.txt")
        #expect(try fm.attributesOfItem(atPath: ours + "/by-s3fs")[.type] as? FileAttributeType == .typeDirectory)
        // A FIFO and extended attributes s3fs stored.
        #expect(mkfifo(theirs + "/by-s3fs/pipe", 0o640) == 0)
        #expect(setxattr(theirs + "/by-s3fs/f.txt", "user.from", "s3fs", 4, 0) == 0, "\(String(cString: strerror(errno)))")
        #expect(eventually(timeout: 10) { Self.fileType(ours + "/by-s3fs/pipe") == S_IFIFO })
        #expect(eventually(timeout: 10) { Self.xattr(ours + "/by-s3fs/f.txt", "user.from") == "s3fs" })

        // The mount writes; s3fs reads the same.
        try fm.createDirectory(atPath: ours + "/by-gt", withIntermediateDirectories: false)
        #expect(fm.createFile(atPath: ours + "/by-gt/g.txt", contents: Data("from garagetytus\n".utf8), attributes: [.posixPermissions: 0o640]))
        try fm.createSymbolicLink(atPath: ours + "/by-gt/ln", withDestinationPath: "g.txt")
        #expect(try eventually(timeout: 10) { fm.fileExists(atPath: theirs + "/by-gt/ln") })
        #expect(try String(contentsOfFile: theirs + "/by-gt/g.txt", encoding: .utf8) == "from garagetytus\n")
        #expect(try fm.attributesOfItem(atPath: theirs + "/by-gt/g.txt")[.posixPermissions] as? Int == 0o640)
        #expect(try fm.destinationOfSymbolicLink(atPath: theirs + "/by-gt/ln") == "g.txt")
        // A FIFO and extended attributes the mount stored (binary bytes too).
        #expect(mkfifo(ours + "/by-gt/pipe", 0o600) == 0)
        #expect(setxattr(ours + "/by-gt/g.txt", "user.from", "garagetytus", 11, 0) == 0)
        #expect(setxattr(ours + "/by-gt/g.txt", "user.bin", [UInt8(0), 0xFF, 0x2C], 3, 0) == 0)
        #expect(eventually(timeout: 10) { Self.fileType(theirs + "/by-gt/pipe") == S_IFIFO })
        #expect(eventually(timeout: 10) { Self.xattr(theirs + "/by-gt/g.txt", "user.from") == "garagetytus" })
        // A directory's mode, which the daemon keeps for the engine, reaches s3fs with a HEAD of its marker.
        #expect(mkdir(ours + "/by-gt/private", 0o700) == 0 && chmod(ours + "/by-gt/private", 0o710) == 0)
        #expect(eventually(timeout: 10) { Self.mode(theirs + "/by-gt/private") == S_IFDIR | 0o710 },
                "\(Self.mode(theirs + "/by-gt/private").map { String($0, radix: 8) } ?? "none")")
        var bin = [UInt8](repeating: 0, count: 8)
        #expect(getxattr(theirs + "/by-gt/g.txt", "user.bin", &bin, 8) == 3 && bin.prefix(3) == [0, 0xFF, 0x2C])
    }

    static func mode(_ path: String) -> UInt32? {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode : nil
    }

    static func fileType(_ path: String) -> UInt32? {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode & S_IFMT : nil
    }

    static func xattr(_ path: String, _ name: String) -> String? {
        var buf = [UInt8](repeating: 0, count: 256)
        let n = getxattr(path, name, &buf, buf.count)
        return n >= 0 ? String(decoding: buf.prefix(n), as: UTF8.self) : nil
    }
}
