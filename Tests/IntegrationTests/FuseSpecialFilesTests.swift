import Daemon
import CGaragetytus
import Foundation
import Mount
import S3
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// FIFOs, sockets, device nodes and extended attributes through the kernel on the real engine:
/// each is an object (empty for the special files) whose metadata keep the type, the device
/// number and the attributes under s3fs's names, so they come back after a remount.
@Suite(.serialized) struct FuseSpecialFilesTests {
    @Test func specialFilesAreKeptAsObjectsAndWorkAfterARemount() throws {
        let (h, client) = try DaemonHarness.started(name: "fuses", bucket: "special")
        defer { _ = try? h.run(["stop"]) }
        var m = try InProcessMount(client: client, bucket: "special")
        let mnt = m.mountpoint
        defer { m.unmount() }

        #expect(mkfifo(mnt + "/pipe", 0o640) == 0, "mkfifo: \(String(cString: strerror(errno)))")
        #expect(mknod(mnt + "/null", S_IFCHR | 0o644, dev_t(Self.dev(1, 3))) == 0, "mknod c: \(String(cString: strerror(errno)))")
        #expect(mknod(mnt + "/loop", S_IFBLK | 0o600, dev_t(Self.dev(7, 42))) == 0, "mknod b: \(String(cString: strerror(errno)))")
        #expect(try Self.bindSocket(mnt + "/sock") == 0)
        #expect(mknod(mnt + "/plain", S_IFREG | 0o600, 0) == 0, "mknod of a regular file: \(String(cString: strerror(errno)))")
        let expected: [(String, UInt32, UInt32)] = [("pipe", S_IFIFO, 0), ("null", S_IFCHR, Self.dev(1, 3)),
                                                   ("loop", S_IFBLK, Self.dev(7, 42)), ("sock", S_IFSOCK, 0), ("plain", S_IFREG, 0)]
        func check(_ when: String) throws {
            for (name, type, rdev) in expected {
                var st = stat()
                #expect(lstat(mnt + "/" + name, &st) == 0, "\(when) \(name)")
                #expect(st.st_mode & S_IFMT == type, "\(when) \(name): mode \(String(st.st_mode, radix: 8))")
                #expect(UInt32(st.st_rdev) == rdev, "\(when) \(name): rdev \(st.st_rdev)")
                #expect(st.st_size == 0)
            }
            // A FIFO's I/O is the kernel's: a writer and a reader meet through it.
            let writer = Thread {
                let fd = open(mnt + "/pipe", O_WRONLY)
                _ = "through the fifo".withCString { write(fd, $0, 16) }
                close(fd)
            }
            writer.start()
            let fd = open(mnt + "/pipe", O_RDONLY)
            var buf = [UInt8](repeating: 0, count: 64)
            let n = read(fd, &buf, 64)
            close(fd)
            #expect(n == 16 && String(decoding: buf.prefix(16), as: UTF8.self) == "through the fifo", "\(when)")
        }
        try check("created")
        // Each is an empty object whose mode has its type; a device also its number.
        let dev = try client.head(bucket: "special", key: "null")
        #expect(dev.size == 0 && dev.metadata["mode"] == String(S_IFCHR | 0o644) && dev.metadata["rdev"] == String(Self.dev(1, 3)))
        #expect(try client.head(bucket: "special", key: "pipe").metadata["mode"] == String(S_IFIFO | 0o640))

        // chmod keeps the type; rename and unlink move and remove the object.
        #expect(chmod(mnt + "/pipe", 0o600) == 0)
        #expect(try client.head(bucket: "special", key: "pipe").metadata["mode"] == String(S_IFIFO | 0o600))
        #expect(mkfifo(mnt + "/gone", 0o600) == 0 && rename(mnt + "/gone", mnt + "/moved") == 0)
        #expect(try client.head(bucket: "special", key: "moved").metadata["mode"] == String(S_IFIFO | 0o600))
        #expect(unlink(mnt + "/moved") == 0)
        #expect(throws: S3Error.self) { try client.head(bucket: "special", key: "moved") }
        // Without --xattr the mount has no extended attributes: the kernel answers for it.
        #expect(try Self.set(mnt + "/plain", "user.x", Data("1".utf8)) == ENOTSUP)
        #expect(try Self.get(mnt + "/plain", "user.x") == .failure(Errno(ENOTSUP)))
        // A name that exists is refused, as for any create.
        #expect(mkfifo(mnt + "/null", 0o600) == -1 && errno == EEXIST)

        m.unmount(keepDirectory: true)
        m = try InProcessMount(client: client, bucket: "special", at: mnt)
        try check("after a remount")
    }

    @Test func extendedAttributesAreStoredWithTheObjectAndSurviveARemount() throws {
        let (h, client) = try DaemonHarness.started(name: "fusex", bucket: "xattrs")
        defer { _ = try? h.run(["stop"]) }
        var m = try InProcessMount(client: client, bucket: "xattrs") { $0.extendedAttributes = true }
        let mnt = m.mountpoint
        defer { m.unmount() }
        let f = mnt + "/f.txt"
        #expect(FileManager.default.createFile(atPath: f, contents: Data("bytes".utf8)))
        let binary = Data([0, 1, 2, 0xFF, 0, 0x22, 0x2C])
        #expect(try Self.set(f, "user.color", Data("blue".utf8)) == 0)
        #expect(try Self.set(f, "user.bin", binary) == 0)
        #expect(try Self.set(f, "user.empty", Data()) == 0)
        // XATTR_CREATE on one that exists, XATTR_REPLACE on one that does not.
        #expect(try Self.set(f, "user.color", Data("red".utf8), flags: 1) == EEXIST)
        #expect(try Self.set(f, "user.none", Data("x".utf8), flags: 2) == ENODATA)
        #expect(try Self.set(f, "user.color", Data("green".utf8), flags: 2) == 0)
        // A name s3fs's encoding cannot hold is refused; nothing is stored.
        #expect(try Self.set(f, "user.a,b", Data("x".utf8)) == EINVAL)
        // Too much for an object's metadata: ENOSPC, and nothing changed.
        #expect(try Self.set(f, "user.big", Data(repeating: 0x41, count: 16 << 10)) == ENOSPC)

        func check(_ when: String) throws {
            #expect(try Self.get(f, "user.color") == .success(Data("green".utf8)), "\(when)")
            #expect(try Self.get(f, "user.bin") == .success(binary), "\(when)")
            #expect(try Self.get(f, "user.empty") == .success(Data()), "\(when)")
            #expect(try Self.get(f, "user.missing") == .failure(Errno(ENODATA)), "\(when)")
            #expect(Self.names(f) == ["user.bin", "user.color", "user.empty"], "\(when)")
            #expect(try String(contentsOfFile: f, encoding: .utf8) == "bytes", "\(when)")
        }
        try check("set")
        // A small buffer: ERANGE, as from any filesystem.
        var small = [UInt8](repeating: 0, count: 2)
        #expect(getxattr(f, "user.color", &small, 2) == -1 && errno == ERANGE)
        // In the object, in s3fs's form.
        let stored = try #require(try client.head(bucket: "xattrs", key: "f.txt").metadata["xattr"])
        #expect(S3fsXattrs.decode(stored) == ["user.color": Data("green".utf8), "user.bin": binary, "user.empty": Data()])

        // Writing the file keeps its attributes; so do chmod and rename.
        let fd = open(f, O_WRONLY | O_TRUNC)
        _ = "rewritten".withCString { write(fd, $0, 9) }
        #expect(fsetxattr(fd, "user.during", "w", 1, 0) == 0)
        #expect(close(fd) == 0)
        #expect(chmod(f, 0o600) == 0)
        #expect(rename(f, mnt + "/g.txt") == 0)
        let g = mnt + "/g.txt"
        #expect(try client.get(bucket: "xattrs", key: "g.txt") == Data("rewritten".utf8))
        #expect(S3fsXattrs.decode(try client.head(bucket: "xattrs", key: "g.txt").metadata["xattr"] ?? "").keys.sorted()
                == ["user.bin", "user.color", "user.during", "user.empty"])
        #expect(removexattr(g, "user.bin") == 0)
        #expect(removexattr(g, "user.bin") == -1 && errno == ENODATA)

        m.unmount(keepDirectory: true)
        m = try InProcessMount(client: client, bucket: "xattrs", at: mnt) { $0.extendedAttributes = true }
        #expect(Self.names(g) == ["user.color", "user.during", "user.empty"])
        #expect(try Self.get(g, "user.during") == .success(Data("w".utf8)))
        // The mount's own files have none and take none.
        #expect(try Self.get(mnt + "/.stats", "user.x") == .failure(Errno(ENODATA)))
        #expect(try Self.set(mnt + "/.stats", "user.x", Data("1".utf8)) == EROFS)
    }

    /// POSIX ACLs with `--xattr`: `setfacl`/`getfacl` work, the kernel checks them (another user
    /// reads only what an ACL entry lets them), the mode's group bits follow the mask, `chmod`
    /// changes the ACL, a default ACL is inherited, and all of it survives a remount.
    @Test func posixACLsAreKeptCheckedAndInherited() throws {
        let (h, client) = try DaemonHarness.started(name: "fuseacl", bucket: "acls")
        defer { _ = try? h.run(["stop"]) }
        func mount(at existing: String? = nil) throws -> InProcessMount {
            try InProcessMount(client: client, bucket: "acls", at: existing, fuseOptions: ["allow_other"]) { $0.extendedAttributes = true }
        }
        var m = try mount()
        let mnt = m.mountpoint
        defer { m.unmount() }
        // Another user may reach into the mount's top (a fresh temp directory is 0700).
        #expect(chmod(mnt, 0o755) == 0)
        func run(_ tool: String, _ args: [String]) throws -> DaemonHarness.Result {
            try DaemonHarness.runProcess(tool, args, env: [:], timeout: 20)
        }
        func readsAsOther(_ path: String) throws -> Bool {
            try run("/usr/bin/setpriv", ["--reuid=4321", "--regid=4321", "--clear-groups", "/bin/cat", path]).status == 0
        }
        let f = mnt + "/secret.txt"
        #expect(FileManager.default.createFile(atPath: f, contents: Data("secret".utf8)))
        #expect(chmod(f, 0o640) == 0)
        #expect(try !readsAsOther(f))
        #expect(try run("/usr/bin/setfacl", ["-m", "u:4321:r", f]).status == 0)
        #expect(try readsAsOther(f), "the kernel checks the ACL entry")
        #expect(try run("/usr/bin/getfacl", ["-cn", f]).stdout.contains("user:4321:r--"))
        var st = stat()
        #expect(stat(f, &st) == 0 && st.st_mode & 0o777 == 0o640, "\(String(st.st_mode, radix: 8))")  // group bits = the mask (r--)
        // chmod takes the mask with it: the entry stays, its effective permissions go.
        #expect(chmod(f, 0o600) == 0)
        #expect(try !readsAsOther(f))
        #expect(try run("/usr/bin/getfacl", ["-cn", f]).stdout.contains("mask::---"))
        #expect(chmod(f, 0o640) == 0)
        // A default ACL is inherited by what is made below it.
        #expect(mkdir(mnt + "/team", 0o755) == 0)
        #expect(try run("/usr/bin/setfacl", ["-d", "-m", "u:4321:rw", mnt + "/team"]).status == 0)
        #expect(FileManager.default.createFile(atPath: mnt + "/team/new.txt", contents: Data("shared".utf8)))
        #expect(mkdir(mnt + "/team/sub", 0o755) == 0)
        #expect(try run("/usr/bin/getfacl", ["-cn", mnt + "/team/new.txt"]).stdout.contains("user:4321:rw-"))
        #expect(try run("/usr/bin/getfacl", ["-cn", mnt + "/team/sub"]).stdout.contains("default:user:4321:rw-"))
        #expect(try readsAsOther(mnt + "/team/new.txt"))

        m.unmount(keepDirectory: true)
        m = try mount(at: mnt)
        #expect(try readsAsOther(f), "after a remount")
        #expect(try run("/usr/bin/getfacl", ["-cn", f]).stdout.contains("user:4321:r--"))
        #expect(try run("/usr/bin/getfacl", ["-cn", mnt + "/team/new.txt"]).stdout.contains("user:4321:rw-"))
        // The ACL is in the object's metadata, in s3fs's attribute map.
        let xattrs = S3fsXattrs.decode(try client.head(bucket: "acls", key: "secret.txt").metadata["xattr"] ?? "")
        #expect(xattrs[PosixACL.accessName].flatMap(PosixACL.init(xattr:))?.entries.contains { $0.id == 4321 } == true)
    }

    /// setxattr(2): 0 or its errno.
    static func set(_ path: String, _ name: String, _ value: Data, flags: Int32 = 0) throws -> Int32 {
        let rc = value.withUnsafeBytes { setxattr(path, name, $0.baseAddress, value.count, flags) }
        return rc == 0 ? 0 : errno
    }

    /// getxattr(2), asking the size first, as getfattr does.
    static func get(_ path: String, _ name: String) throws -> Result<Data, Errno> {
        let size = getxattr(path, name, nil, 0)
        guard size >= 0 else { return .failure(Errno(errno)) }
        var buf = [UInt8](repeating: 0, count: max(size, 1))
        let n = getxattr(path, name, &buf, buf.count)
        guard n >= 0 else { return .failure(Errno(errno)) }
        return .success(Data(buf.prefix(n)))
    }

    struct Errno: Error, Equatable {
        let code: Int32
        init(_ code: Int32) { self.code = code }
    }

    /// A device number as the kernel and glibc encode small ones (`makedev`).
    static func dev(_ major: UInt32, _ minor: UInt32) -> UInt32 { (minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12) }

    static func names(_ path: String) -> [String] {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = listxattr(path, &buf, buf.count)
        guard n > 0 else { return [] }
        return buf.prefix(n).split(separator: 0).map { String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self) }.sorted()
    }

    /// Binds a unix socket at `path` (which creates the socket file), then closes it: 0 or errno.
    static func bindSocket(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return ENAMETOOLONG }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) {
            // SAFETY: a sockaddr_un read as the generic sockaddr bind(2) takes, with its own size.
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return rc == 0 ? 0 : errno
    }
}
