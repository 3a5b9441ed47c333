import CFuse3
import CFuseShim
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The low-level operations table: C-convention closures that find the `VFS` through the
/// request's userdata, call it, and reply once — with data, or with the error's errno.
enum FuseOps {
    static func vfs(_ req: fuse_req_t?) -> VFS {
        // SAFETY: userdata is the VFS retained by FuseMount for the whole session.
        Unmanaged<VFS>.fromOpaque(fuse_req_userdata(req)!).takeUnretainedValue()
    }

    /// Replies with the errno of whatever `body` threw, or lets `body` reply itself.
    static func serve(_ req: fuse_req_t?, _ op: String, _ body: () throws -> Void) {
        // The request is freed by its reply: take what we need from it first.
        let fs = vfs(req)
        let metrics = fs.metrics
        let started = DispatchTime.now().uptimeNanoseconds
        var failed = false
        metrics.opStarted(op)
        do {
            try body()
        } catch let e as VFSError {
            failed = true
            // What the store refused or failed is logged (a revoked grant names itself here).
            if [EIO, ESTALE, EACCES].contains(e.errno) { fs.options.onError?("\(op): \(e.message)") }
            fuse_reply_err(req, e.errno)
        } catch {
            failed = true
            fs.options.onError?("\(op): \(error)")
            fuse_reply_err(req, EIO)
        }
        metrics.op(op, seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9, failed: failed)
    }

    static func stat(_ a: FileAttr) -> Glibc.stat {
        var st = Glibc.stat()
        st.st_ino = UInt(a.ino)
        st.st_mode = a.mode
        st.st_nlink = UInt(a.nlink)
        st.st_uid = a.uid
        st.st_gid = a.gid
        st.st_rdev = UInt(a.rdev)
        st.st_size = Int(a.size)
        st.st_blksize = 4096
        st.st_blocks = Int((a.size + 511) / 512)
        func time(_ t: Double) -> timespec {
            let sec = Int(t.rounded(.down))
            return timespec(tv_sec: sec, tv_nsec: Int((t - Double(sec)) * 1e9))
        }
        st.st_mtim = time(a.mtime)
        st.st_ctim = time(a.ctime ?? a.mtime)
        st.st_atim = time(a.atime ?? a.mtime)
        return st
    }

    /// The operations; extended attributes only when `xattrs` (without them libfuse answers
    /// ENOSYS, and the kernel stops asking).
    static func table(xattrs: Bool) -> fuse_lowlevel_ops {
        var ops = fuse_lowlevel_ops()
        ops.`init` = { userdata, conn in
            guard let userdata, let c = conn else { return }
            // SAFETY: userdata is the VFS retained by FuseMount; `conn` is valid during this call.
            let vfs = Unmanaged<VFS>.fromOpaque(userdata).takeUnretainedValue()
            // More asynchronous (read-ahead) requests in flight than the kernel's 12 by default.
            c.pointee.max_background = 64
            c.pointee.congestion_threshold = 48
            // Writeback caching stays off: with it the kernel keeps its own idea of a file's size
            // and mtime, so another client's change to an object would not show within the TTL.
            // Every directory read carries the attributes known (readdirplus), not only the
            // first: `ls -l` reads all entries before it stats one, so the kernel's adaptive
            // choice would fall back to plain readdir after the first buffer.
            c.pointee.want &= ~UInt32(FUSE_CAP_READDIRPLUS_AUTO)
            // With extended attributes, POSIX ACLs too: the kernel checks them (and caches them),
            // and leaves the umask of a create to the mount, which skips it under a default ACL.
            let acl = UInt32(FUSE_CAP_POSIX_ACL) | UInt32(FUSE_CAP_DONT_MASK)
            if vfs.options.extendedAttributes && c.pointee.capable & acl == acl { c.pointee.want |= acl }
            let writeback = (c.pointee.want & UInt32(FUSE_CAP_WRITEBACK_CACHE)) != 0
            vfs.noteKernel(["fuse_protocol": "\(c.pointee.proto_major).\(c.pointee.proto_minor)",
                            "fuse_max_write": "\(c.pointee.max_write)", "fuse_max_readahead": "\(c.pointee.max_readahead)",
                            "fuse_max_background": "\(c.pointee.max_background)", "fuse_writeback_cache": "\(writeback)",
                            "fuse_readdirplus": "\((c.pointee.want & UInt32(FUSE_CAP_READDIRPLUS)) != 0)",
                            "fuse_posix_acl": "\((c.pointee.want & UInt32(FUSE_CAP_POSIX_ACL)) != 0)"])
        }
        ops.lookup = { req, parent, name in
            FuseOps.serve(req, "lookup") {
                let vfs = FuseOps.vfs(req)
                let e: EntryReply
                do {
                    e = try vfs.lookup(parent: UInt64(parent), name: String(cString: name!))
                } catch let err as VFSError where err.code == .notFound {
                    // A negative entry: the kernel answers ENOENT itself for the metadata TTL
                    // (build tools probe many missing paths). Creating the name here clears it.
                    var p = fuse_entry_param()
                    p.ino = 0
                    p.entry_timeout = vfs.options.metadataTTL
                    fuse_reply_entry(req, &p)
                    return
                }
                var p = fuse_entry_param()
                p.ino = fuse_ino_t(e.attr.ino)
                p.attr = FuseOps.stat(e.attr)
                p.attr_timeout = e.ttl
                p.entry_timeout = e.ttl
                fuse_reply_entry(req, &p)
            }
        }
        ops.forget = { req, ino, n in
            FuseOps.vfs(req).forget(UInt64(ino), count: UInt64(n))
            fuse_reply_none(req)
        }
        ops.forget_multi = { req, count, list in
            let v = FuseOps.vfs(req)
            for i in 0..<count { v.forget(UInt64(list![i].ino), count: UInt64(list![i].nlookup)) }
            fuse_reply_none(req)
        }
        ops.getattr = { req, ino, _ in
            FuseOps.serve(req, "getattr") {
                var st = FuseOps.stat(try FuseOps.vfs(req).getattr(UInt64(ino)))
                fuse_reply_attr(req, &st, FuseOps.vfs(req).options.metadataTTL)
            }
        }
        ops.readlink = { req, ino in
            FuseOps.serve(req, "readlink") { _ = try FuseOps.vfs(req).readlink(UInt64(ino)).withCString { fuse_reply_readlink(req, $0) } }
        }
        ops.opendir = { req, ino, fi in
            FuseOps.serve(req, "opendir") {
                // The listing is taken from opendir on, in the background, and served by readdir
                // offsets as its pages arrive; opendir answers once the first page is in (its
                // failure is opendir's), a later page's failure is the readdir's that needs it.
                let stream = DirStream()
                let vfs = FuseOps.vfs(req)
                DispatchQueue.global(qos: .userInitiated).async {
                    do {
                        try vfs.readdir(UInt64(ino)) { stream.append($0) }
                        stream.finish(nil)
                    } catch {
                        stream.finish(error)
                    }
                }
                try stream.waitForFirstPage()
                let box = Unmanaged.passRetained(stream)
                gt_fuse_fi_set(fi, UInt64(UInt(bitPattern: box.toOpaque())), 0, 0)
                fuse_reply_open(req, fi)
            }
        }
        ops.readdir = { req, ino, size, off, fi in FuseOps.readdir(req, ino, size, off, fi, plus: false) }
        ops.readdirplus = { req, ino, size, off, fi in FuseOps.readdir(req, ino, size, off, fi, plus: true) }
        ops.releasedir = { req, _, fi in
            Unmanaged<DirStream>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(fi!.pointee.fh))!).release()
            fuse_reply_err(req, 0)
        }
        ops.open = { req, ino, fi in
            FuseOps.serve(req, "open") {
                let flags = fi!.pointee.flags
                let write = (flags & O_ACCMODE) != O_RDONLY
                let vfs = FuseOps.vfs(req)
                let fh = try vfs.open(UInt64(ino), write: write, truncate: write && flags & O_TRUNC != 0,
                                      owner: write ? FuseOps.process(req) : nil)
                // Virtual files change between opens: bypass the page cache for them. Files keep
                // their cached pages only while their ETag is the one those pages came from.
                gt_fuse_fi_set(fi, fh, vfs.keepsCache(fh) ? 1 : 0, VFS.isVirtual(UInt64(ino)) ? 1 : 0)
                fuse_reply_open(req, fi)
            }
        }
        ops.read = { req, _, size, off, fi in
            FuseOps.serve(req, "read") {
                let data = try FuseOps.vfs(req).read(fi!.pointee.fh, offset: Int64(off), size: size)
                _ = data.withUnsafeBytes { fuse_reply_buf(req, $0.baseAddress?.assumingMemoryBound(to: CChar.self), data.count) }
            }
        }
        ops.release = { req, _, fi in
            FuseOps.vfs(req).release(fi!.pointee.fh)
            fuse_reply_err(req, 0)
        }
        ops.statfs = { req, _ in
            var s = statvfs()
            s.f_bsize = 4096
            s.f_frsize = 4096
            s.f_blocks = 1 << 38
            s.f_bfree = 1 << 38
            s.f_bavail = 1 << 38
            s.f_files = 1 << 32
            s.f_ffree = 1 << 32
            s.f_favail = 1 << 32
            s.f_namemax = 255
            fuse_reply_statfs(req, &s)
        }
        addWriteOps(&ops)
        if xattrs { addXattrOps(&ops) }
        return ops
    }
}

extension FuseOps {
    /// Fills the kernel's buffer with the snapshot's entries from `off` on. With `plus`, each
    /// entry whose attributes are known without asking the store carries them (and counts as a
    /// lookup of its inode, which the kernel forgets later); the others, and "." and "..", carry
    /// none (inode 0), so the kernel looks them up when it needs them.
    static func readdir(_ req: fuse_req_t?, _ dir: fuse_ino_t, _ size: Int, _ off: off_t, _ fi: UnsafeMutablePointer<fuse_file_info>?, plus: Bool) {
        // SAFETY: fh holds the DirStream retained by opendir until releasedir.
        let stream = Unmanaged<DirStream>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(fi!.pointee.fh))!).takeUnretainedValue()
        let available: ArraySlice<DirEntry>
        do {
            available = try stream.entries(from: Int(off))
        } catch {
            return serve(req, plus ? "readdirplus" : "readdir") { throw error }
        }
        let fs = vfs(req)
        var buf = [CChar](repeating: 0, count: size)
        var used = 0
        var index = Int(off)
        while index < available.endIndex {
            let e = available[index]
            let need = e.name.withCString { plus ? fuse_add_direntry_plus(req, nil, 0, $0, nil, 0) : fuse_add_direntry(req, nil, 0, $0, nil, 0) }
            if need > size - used { break }
            var p = fuse_entry_param()
            p.attr.st_ino = UInt(e.ino)
            p.attr.st_mode = e.mode
            if plus, e.name != ".", e.name != "..", let known = fs.lookupIfKnown(parent: UInt64(dir), entry: e) {
                p.ino = fuse_ino_t(known.attr.ino)
                p.attr = stat(known.attr)
                p.attr_timeout = known.ttl
                p.entry_timeout = known.ttl
            }
            _ = buf.withUnsafeMutableBufferPointer { b in
                e.name.withCString { name in
                    plus ? fuse_add_direntry_plus(req, b.baseAddress! + used, size - used, name, &p, off_t(index + 1))
                        : fuse_add_direntry(req, b.baseAddress! + used, size - used, name, &p.attr, off_t(index + 1))
                }
            }
            used += need
            index += 1
        }
        fuse_reply_buf(req, buf, used)
    }
}

/// A directory listing taken from opendir on, its entries added as the pages arrive.
final class DirStream: @unchecked Sendable {
    // SAFETY: `entries`, `done` and `failure` are read and written only with `cond` locked.
    private let cond = NSCondition()
    private var entries: [DirEntry] = []
    private var done = false
    private var failure: (any Error)?

    func append(_ more: [DirEntry]) {
        cond.lock()
        entries += more
        cond.broadcast()
        cond.unlock()
    }

    func finish(_ error: (any Error)?) {
        cond.lock()
        done = true
        failure = error
        cond.broadcast()
        cond.unlock()
    }

    /// Returns once the first entries are in or the listing ended; throws its failure if it failed
    /// before giving any.
    func waitForFirstPage() throws {
        cond.lock()
        defer { cond.unlock() }
        while entries.isEmpty && !done { cond.wait() }
        if entries.isEmpty, let failure { throw failure }
    }

    /// The entries from `index` on that are in, waiting until there is one or the listing ended
    /// (empty then: the end); throws the listing's failure when it ended before `index`.
    func entries(from index: Int) throws -> ArraySlice<DirEntry> {
        cond.lock()
        defer { cond.unlock() }
        while entries.count <= index && !done { cond.wait() }
        if entries.count <= index, let failure { throw failure }
        return entries[min(index, entries.count)...]
    }
}
