import Foundation
@testable import Mount
import S3
import Synchronization
import Testing
import TestSupport

/// A file read at random is fetched whole into the block cache, and each window fetched goes to
/// the kernel's page cache of the open inode too (`KernelNotify.store`): the bytes of the version
/// the reader opened, never past its size, and never once the file is staged for a write or
/// another client's change was seen — a handover in progress finishes before those go on.
@Suite struct VFSPageHandoverTests {
    let dir = NSTemporaryDirectory() + "gt-pages-\(UUID().uuidString)"

    /// What the mount handed to the kernel; with `holdFirst`, the first handover waits for `release`.
    final class Kernel: Sendable {
        let stored = Mutex<[(ino: UInt64, offset: Int64, bytes: Data)]>([])
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let holdFirst: Bool
        init(holdFirst: Bool = false) { self.holdFirst = holdFirst }

        var notify: KernelNotify {
            KernelNotify(inode: { _ in }, entry: { _, _ in }, store: { [self] ino, offset, bytes in
                let first = stored.withLock { s -> Bool in
                    s.append((ino, offset, Data(bytes)))
                    return s.count == 1
                }
                if first && holdFirst {
                    entered.signal()
                    release.wait()
                }
            })
        }
        var total: Int { stored.withLock { $0.reduce(0) { $0 + $1.bytes.count } } }
        var count: Int { stored.withLock { $0.count } }
    }

    func body(_ n: Int, seed: UInt8) -> Data { Data((0..<n).map { UInt8(truncatingIfNeeded: ($0 &* 131) >> 3) ^ seed }) }

    func mounted(_ store: any ObjectStore, _ kernel: Kernel) -> VFS {
        var o = VFSOptions(defaults: AttributeDefaults(uid: 0, gid: 0))
        var c = BlockCache.Options(directory: dir, capacity: 64 << 20)
        c.blockSize = 64 << 10
        o.blockCache = BlockCache(c, onError: { _ in })
        o.cacheFetchSize = 256 << 10
        let vfs = VFS(store: store, options: o)
        vfs.attachKernel(notify: kernel.notify)
        return vfs
    }

    /// Two reads far apart: the second miss starts the whole-object fill.
    func readAtRandom(_ vfs: VFS, _ fh: UInt64, size: Int) throws {
        _ = try vfs.read(fh, offset: Int64(size / 2), size: 4096)
        _ = try vfs.read(fh, offset: 4096 * 3, size: 4096)
    }

    /// A 4 MiB file read at random by an open reader, its first handover held by the kernel and
    /// the fill's three other workers waiting for the gate with their windows.
    func heldHandover(seed: UInt8) throws -> (InMemoryObjectStore, Kernel, VFS, UInt64, UInt64) {
        let store = InMemoryObjectStore()
        let data = body(4 << 20, seed: seed)
        try store.put("f", data: data, metadata: [:])
        let kernel = Kernel(holdFirst: true)
        let vfs = mounted(store, kernel)
        let ino = try vfs.lookup(parent: VFS.rootIno, name: "f").attr.ino
        let reader = try vfs.open(ino, write: false)
        try readAtRandom(vfs, reader, size: data.count)
        #expect(kernel.entered.wait(timeout: .now() + 10) == .success, "a handover started")
        #expect(eventually(timeout: 10) { vfs.pageGate.waiters == 3 })
        return (store, kernel, vfs, ino, reader)
    }

    @Test func aFileReadAtRandomGoesToThePageCacheWholeWithTheBytesOfItsVersion() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = InMemoryObjectStore()
        let data = body((2 << 20) + 5000, seed: 7)
        try store.put("f", data: data, metadata: [:])
        let kernel = Kernel()
        let vfs = mounted(store, kernel)
        let ino = try vfs.lookup(parent: VFS.rootIno, name: "f").attr.ino
        let fh = try vfs.open(ino, write: false)
        try readAtRandom(vfs, fh, size: data.count)
        #expect(eventually(timeout: 10) { kernel.total >= data.count }, "handed over: \(kernel.total) of \(data.count)")
        var covered = IndexSet()
        for s in kernel.stored.withLock({ $0 }) {
            #expect(s.ino == ino)
            #expect(s.offset + Int64(s.bytes.count) <= Int64(data.count), "never past the size the kernel has")
            #expect(s.bytes == data.subdata(in: Int(s.offset) ..< Int(s.offset) + s.bytes.count), "at \(s.offset)")
            covered.insert(integersIn: Int(s.offset) ..< Int(s.offset) + s.bytes.count)
        }
        #expect(covered == IndexSet(integersIn: 0 ..< data.count))
        #expect(vfs.metrics.render(inodes: 0, pendingUploads: 0).contains("garagetytus_page_cache_handed_bytes_total \(kernel.total)"))
        vfs.release(fh)
    }

    /// A handover in progress holds back an open for writing until it is done, and none starts
    /// after: the kernel's pages then hold the writes, which an old version's bytes must not cover.
    @Test func anOpenForWritingWaitsForAHandoverAndNoneComesAfterIt() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (_, kernel, vfs, ino, reader) = try heldHandover(seed: 9)
        // The fill's three other workers wait for the gate with their windows; then the open.
        let opened = DispatchGroup()
        nonisolated(unsafe) var writer: UInt64?
        DispatchQueue.global().async(group: opened) { writer = try? vfs.open(ino, write: true) }
        #expect(eventually(timeout: 10) { vfs.pageGate.waiters == 4 }, "the open waits for the handover")
        #expect(writer == nil)
        let before = kernel.count
        kernel.release.signal()
        #expect(opened.wait(timeout: .now() + 10) == .success && writer != nil)
        // The waiting windows found the file staged: none went to the kernel, nor any later.
        #expect(eventually(timeout: 10) { vfs.pageGate.waiters == 0 })
        #expect(kernel.count == before)
        _ = try vfs.read(reader, offset: 0, size: 4096)
        #expect(kernel.count == before)
        vfs.release(writer!)
        vfs.release(reader)
    }

    /// Another client's new version (the change feed): no page of the old one goes to the kernel
    /// after the change was applied.
    @Test func anotherClientsChangeEndsTheHandoverOfTheOldVersion() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (store, kernel, vfs, _, reader) = try heldHandover(seed: 11)
        let newer = try store.put("f", data: body(4 << 20, seed: 12), metadata: [:])
        let applied = DispatchGroup()
        DispatchQueue.global().async(group: applied) {
            vfs.applyChange(ObjectChange(op: .put, key: "f", etag: newer.etag.map(ETag.unquoted), size: newer.size, mtime: 1, metadata: [:]))
        }
        #expect(eventually(timeout: 10) { vfs.pageGate.waiters == 4 }, "the change waits for the handover")
        let before = kernel.count
        kernel.release.signal()
        #expect(applied.wait(timeout: .now() + 10) == .success)
        #expect(eventually(timeout: 10) { vfs.pageGate.waiters == 0 })
        #expect(kernel.count == before, "no page of the old version after the change")
        vfs.release(reader)
    }
}
