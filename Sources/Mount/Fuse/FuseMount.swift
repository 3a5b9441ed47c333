import CFuse3
import CFuseShim
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A running FUSE session for a `VFS`: libfuse's multithreaded loop on its own thread.
/// Every request gets exactly one reply: the handlers in `FuseOps` reply on every path.
public final class FuseMount: @unchecked Sendable {
    // SAFETY: `session` is set in init and read-only afterwards; `loopThread` state is guarded by `done`.
    public let mountpoint: String
    let vfs: VFS
    private let session: OpaquePointer
    private let done = DispatchSemaphore(value: 0)
    private let bridge: Unmanaged<VFS>

    /// Mounts `vfs` at `mountpoint` and starts serving. `options` are libfuse `-o` options.
    public init(vfs: VFS, mountpoint: String, options: [String] = []) throws {
        self.vfs = vfs
        self.mountpoint = mountpoint
        // SAFETY: the retained VFS pointer is the session's userdata; released after the loop ends.
        let bridge = Unmanaged.passRetained(vfs)
        self.bridge = bridge
        var ops = FuseOps.table(xattrs: vfs.options.extendedAttributes)
        var args = ["garagetytus"]
        let opts = (["fsname=garagetytus", "subtype=garagetytus", "default_permissions"] + options).joined(separator: ",")
        args += ["-o", opts]
        let se: OpaquePointer? = withCStringArray(args) { argv in
            gt_fuse_session_new(Int32(args.count), argv, &ops, bridge.toOpaque())
        }
        guard let se else {
            bridge.release()
            throw VFSError(.io, "fuse_session_new failed (bad mount options: \(opts))")
        }
        session = se
        let mountedOK = fuse_session_mount(se, mountpoint) == 0
        guard mountedOK else {
            fuse_session_destroy(se)
            bridge.release()
            throw VFSError(.io, "cannot mount on \(mountpoint): is it an empty directory, and is /dev/fuse available?")
        }
        let box = SessionBox(se: se)
        // Attributes only (offset -1): an open without keep_cache drops the pages itself. Not
        // called while the kernel waits for a related lookup/setattr of the inode (see VFS.open).
        vfs.attachKernel(invalidate: { ino in _ = fuse_lowlevel_notify_inval_inode(box.se, fuse_ino_t(ino), -1, 0) })
        // From the change feed's thread, never from a request's: the kernel may hold the
        // directory's lock while it waits for a request, and takes it for an entry's notice.
        vfs.attachKernel(notify: KernelNotify(
            inode: { ino in _ = fuse_lowlevel_notify_inval_inode(box.se, fuse_ino_t(ino), 0, 0) },
            entry: { parent, name in
                _ = name.withCString { fuse_lowlevel_notify_inval_entry(box.se, fuse_ino_t(parent), $0, name.utf8.count) }
            },
            store: { ino, offset, bytes in
                guard let base = bytes.baseAddress else { return }
                _ = gt_fuse_notify_store(box.se, ino, offset, base, bytes.count)
            }))
        let thread = Thread { [done] in
            // Idle workers are kept (up to the loop's 16): libfuse discourages ending them, as
            // starting one per burst of requests costs more than an idle thread.
            _ = gt_fuse_session_loop_mt(box.se, 16)
            done.signal()
        }
        thread.name = "fuse-loop"
        thread.start()
        // After the kernel's INIT (which caps the window at the value it offered), so from a
        // thread that waits for the first stat of the root to be answered by the loop.
        let tuner = Thread {
            var st = stat()
            guard stat(mountpoint, &st) == 0 else { return }
            let raised = Self.raiseKernelReadAhead(mountpoint: mountpoint, kib: 1024)
            vfs.noteKernel(["read_ahead_kb": raised ? "1024" : "unchanged (/sys is not writable)"])
        }
        tuner.start()
    }

    private let ended = Mutex(false)

    /// The kernel reads a FUSE file 128 KiB at a time by default; with a 1 MiB read-ahead window
    /// it sends 1 MiB requests (the most libfuse negotiates), eight times fewer round trips.
    /// Best effort: it needs root (writable /sys), and the mount works the same without it.
    /// True when the window was written.
    static func raiseKernelReadAhead(mountpoint: String, kib: Int) -> Bool {
        var raised = false
        for e in MountTable.entries(at: mountpoint) where e.fsType == "fuse.garagetytus" {
            if (try? "\(kib)\n".write(toFile: "/sys/class/bdi/\(e.device)/read_ahead_kb", atomically: false, encoding: .utf8)) != nil { raised = true }
        }
        return raised
    }

    /// Asks the loop to end and unmounts (from a signal handler's queue, say).
    public func requestUnmount() {
        fuse_session_exit(session)
        fuse_session_unmount(session)
    }

    /// Blocks until the loop has ended (unmounted from here or from outside).
    public func waitUntilEnded() {
        done.wait()
        done.signal()
    }

    /// Unmounts and waits for the loop to end (bounded); frees the session once.
    public func unmount(timeout: Double = 10) {
        requestUnmount()
        guard done.wait(timeout: .now() + timeout) == .success else { return }
        done.signal()
        let first = ended.withLock { e -> Bool in
            defer { e = true }
            return !e
        }
        if first {
            vfs.attachKernel(invalidate: nil)
            vfs.attachKernel(notify: nil)
            fuse_session_destroy(session)
            bridge.release()
        }
    }
}

/// Calls `body` with a NULL-terminated, mutable C argv that lives for the call.
func withCStringArray<R>(_ strings: [String], _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    // SAFETY: the strdup'd copies live until `body` returns; libfuse copies what it keeps.
    var ptrs: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    ptrs.append(nil)
    defer { for p in ptrs { free(p) } }
    return ptrs.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}

/// SAFETY: the session pointer is handed to the loop thread once; libfuse synchronises its own use.
struct SessionBox: @unchecked Sendable { let se: OpaquePointer }
