import CFuse3
import CFuseShim
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension FuseOps {
    static func entry(_ e: EntryReply) -> fuse_entry_param {
        var p = fuse_entry_param()
        p.ino = fuse_ino_t(e.attr.ino)
        p.attr = FuseOps.stat(e.attr)
        p.attr_timeout = e.ttl
        p.entry_timeout = e.ttl
        return p
    }

    /// Who makes a request, and their umask (for a create: the kernel leaves applying it to the
    /// mount when it takes over ACL checks, see `VFS.newNode`).
    static func caller(_ req: fuse_req_t?) -> (uid: UInt32, gid: UInt32, umask: UInt32) {
        guard let ctx = fuse_req_ctx(req) else { return (0, 0, 0o022) }
        return (ctx.pointee.uid, ctx.pointee.gid, ctx.pointee.umask)
    }

    /// The process (thread group) a request comes from; nil when the kernel does not say.
    /// The kernel gives the calling thread's id: a single-threaded caller's is its process id,
    /// which one `pidfd_open` confirms; for other threads /proc tells the thread group. This runs
    /// on every create, open for writing and flush: reading /proc/<tid>/status each time was
    /// 19 % of the mount's CPU when creating small files (the kernel formats ~50 lines).
    static func process(_ req: fuse_req_t?) -> Int32? {
        guard let tid = fuse_req_ctx(req)?.pointee.pid, tid > 0 else { return nil }
        if gt_is_thread_group_leader(tid) == 1 { return tid }
        let fd = open("/proc/\(tid)/status", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return tid }
        defer { close(fd) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { buf in
            // SAFETY: `read` fills at most `buf.count` bytes of `buf`, and only the `n` it filled are parsed.
            let n = read(fd, buf.baseAddress, buf.count)
            guard n > 0 else { return tid }
            return ProcStatus.threadGroup(in: UnsafeBufferPointer(rebasing: buf[..<n])) ?? tid
        }
    }

    static func seconds(_ t: timespec) -> Double { Double(t.tv_sec) + Double(t.tv_nsec) / 1e9 }

    /// The operations that change the filesystem.
    static func addWriteOps(_ ops: inout fuse_lowlevel_ops) {
        ops.create = { req, parent, name, mode, fi in
            FuseOps.serve(req, "create") {
                let who = FuseOps.caller(req)
                let (e, fh) = try FuseOps.vfs(req).create(parent: UInt64(parent), name: String(cString: name!), mode: mode, uid: who.uid, gid: who.gid, umask: who.umask,
                                                          owner: FuseOps.process(req))
                var p = FuseOps.entry(e)
                gt_fuse_fi_set(fi, fh, 0, 0)
                fuse_reply_create(req, &p, fi)
            }
        }
        ops.write = { req, _, buf, size, off, fi in
            FuseOps.serve(req, "write") {
                let data = Data(bytes: buf!, count: size)
                fuse_reply_write(req, try FuseOps.vfs(req).write(fi!.pointee.fh, offset: Int64(off), data: data))
            }
        }
        ops.flush = { req, _, fi in
            FuseOps.serve(req, "flush") {
                try FuseOps.vfs(req).flush(fi!.pointee.fh, caller: FuseOps.process(req))
                fuse_reply_err(req, 0)
            }
        }
        ops.fsync = { req, _, _, fi in
            FuseOps.serve(req, "fsync") {
                try FuseOps.vfs(req).flush(fi!.pointee.fh, sync: true)
                fuse_reply_err(req, 0)
            }
        }
        ops.setattr = { req, ino, attr, toSet, fi in
            FuseOps.serve(req, "setattr") {
                let a = attr!.pointee
                var c = AttrChange()
                c.throughDescriptor = fi != nil
                if toSet & FUSE_SET_ATTR_MODE != 0 { c.mode = a.st_mode }
                if toSet & FUSE_SET_ATTR_UID != 0 { c.uid = a.st_uid }
                if toSet & FUSE_SET_ATTR_GID != 0 { c.gid = a.st_gid }
                if toSet & FUSE_SET_ATTR_SIZE != 0 { c.size = Int64(a.st_size) }
                if toSet & FUSE_SET_ATTR_MTIME_NOW != 0 { c.mtime = Date().timeIntervalSince1970 }
                else if toSet & FUSE_SET_ATTR_MTIME != 0 { c.mtime = FuseOps.seconds(a.st_mtim) }
                if toSet & FUSE_SET_ATTR_ATIME_NOW != 0 { c.atime = Date().timeIntervalSince1970 }
                else if toSet & FUSE_SET_ATTR_ATIME != 0 { c.atime = FuseOps.seconds(a.st_atim) }
                var st = FuseOps.stat(try FuseOps.vfs(req).setattr(UInt64(ino), c))
                fuse_reply_attr(req, &st, FuseOps.vfs(req).options.metadataTTL)
            }
        }
        ops.mkdir = { req, parent, name, mode in
            FuseOps.serve(req, "mkdir") {
                let who = FuseOps.caller(req)
                var p = FuseOps.entry(try FuseOps.vfs(req).mkdir(parent: UInt64(parent), name: String(cString: name!), mode: mode,
                                                                   uid: who.uid, gid: who.gid, umask: who.umask))
                fuse_reply_entry(req, &p)
            }
        }
        ops.symlink = { req, target, parent, name in
            FuseOps.serve(req, "symlink") {
                let who = FuseOps.caller(req)
                var p = FuseOps.entry(try FuseOps.vfs(req).symlink(parent: UInt64(parent), name: String(cString: name!),
                                                                     target: String(cString: target!), uid: who.uid, gid: who.gid))
                fuse_reply_entry(req, &p)
            }
        }
        ops.unlink = { req, parent, name in
            FuseOps.serve(req, "unlink") {
                try FuseOps.vfs(req).unlink(parent: UInt64(parent), name: String(cString: name!))
                fuse_reply_err(req, 0)
            }
        }
        ops.rmdir = { req, parent, name in
            FuseOps.serve(req, "rmdir") {
                try FuseOps.vfs(req).rmdir(parent: UInt64(parent), name: String(cString: name!))
                fuse_reply_err(req, 0)
            }
        }
        ops.rename = { req, parent, name, newParent, newName, flags in
            FuseOps.serve(req, "rename") {
                if flags & UInt32(2) /* RENAME_EXCHANGE */ != 0 { throw VFSError(.invalid, "RENAME_EXCHANGE is not supported") }
                try FuseOps.vfs(req).rename(parent: UInt64(parent), name: String(cString: name!), newParent: UInt64(newParent),
                                            newName: String(cString: newName!), noReplace: flags & UInt32(1) /* RENAME_NOREPLACE */ != 0)
                fuse_reply_err(req, 0)
            }
        }
        ops.link = { req, _, _, _ in
            // Objects cannot share bytes: hard links are refused, never faked.
            fuse_reply_err(req, VFSError(.unsupported, "hard links are not supported").errno)
        }
        ops.mknod = { req, parent, name, mode, rdev in
            FuseOps.serve(req, "mknod") {
                let who = FuseOps.caller(req)
                var p = FuseOps.entry(try FuseOps.vfs(req).mknod(parent: UInt64(parent), name: String(cString: name!), mode: mode,
                                                                   rdev: UInt32(truncatingIfNeeded: rdev), uid: who.uid, gid: who.gid, umask: who.umask))
                fuse_reply_entry(req, &p)
            }
        }
    }

    /// Extended attributes. A size of 0 asks only how many bytes the answer takes.
    static func addXattrOps(_ ops: inout fuse_lowlevel_ops) {
        ops.getxattr = { req, ino, name, size in
            FuseOps.serve(req, "getxattr") {
                let value = try FuseOps.vfs(req).getxattr(UInt64(ino), name: String(cString: name!), limit: size)
                FuseOps.replyXattr(req, value, size: size)
            }
        }
        ops.listxattr = { req, ino, size in
            FuseOps.serve(req, "listxattr") {
                FuseOps.replyXattr(req, try FuseOps.vfs(req).listxattr(UInt64(ino), limit: size), size: size)
            }
        }
        ops.setxattr = { req, ino, name, value, size, flags in
            FuseOps.serve(req, "setxattr") {
                // SAFETY: `value` holds `size` bytes for the duration of this call.
                let bytes = size == 0 ? Data() : Data(bytes: value!, count: size)
                let mode: VFS.XattrMode = flags & 1 /* XATTR_CREATE */ != 0 ? .create : flags & 2 /* XATTR_REPLACE */ != 0 ? .replace : .any
                try FuseOps.vfs(req).setxattr(UInt64(ino), name: String(cString: name!), value: bytes, mode: mode)
                fuse_reply_err(req, 0)
            }
        }
        ops.removexattr = { req, ino, name in
            FuseOps.serve(req, "removexattr") {
                try FuseOps.vfs(req).removexattr(UInt64(ino), name: String(cString: name!))
                fuse_reply_err(req, 0)
            }
        }
    }

    static func replyXattr(_ req: fuse_req_t?, _ data: Data, size: Int) {
        if size == 0 {
            fuse_reply_xattr(req, data.count)
        } else {
            _ = data.withUnsafeBytes { fuse_reply_buf(req, $0.baseAddress?.assumingMemoryBound(to: CChar.self), data.count) }
        }
    }
}
