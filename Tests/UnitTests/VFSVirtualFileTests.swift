import Foundation
import Mount
import Testing
import TestSupport

/// `.stats` and `.config`: the mount's own read-only files at the top of the mount.
@Suite struct VFSVirtualFileTests {
    func fixture() throws -> (InMemoryObjectStore, FaultInjectingStore, VFS) {
        let store = InMemoryObjectStore()
        try store.put("a.txt", data: Data("abc".utf8), metadata: [:])
        // Bucket objects with the same names: hidden at the top, ordinary files below it.
        try store.put(".stats", data: Data("the bucket's own .stats".utf8), metadata: [:])
        try store.put(".config", data: Data("the bucket's own .config".utf8), metadata: [:])
        try store.put("sub/.stats", data: Data("sub stats".utf8), metadata: [:])
        var options = VFSOptions(defaults: AttributeDefaults(uid: 0, gid: 0))
        options.info = ["bucket": "b"]
        let counted = FaultInjectingStore(store)
        return (store, counted, VFS(store: counted, options: options))
    }

    func content(_ vfs: VFS, _ ino: UInt64) throws -> Data {
        let fh = try vfs.open(ino, write: false)
        defer { vfs.release(fh) }
        return try vfs.read(fh, offset: 0, size: 1 << 20)
    }

    @Test func statsAndConfigAreReadableByNameNotListedReadOnlyAndNeverUploaded() throws {
        let (store, counted, vfs) = try fixture()
        let listed = try vfs.readdir(VFS.rootIno).map(\.name)
        #expect(listed.contains("a.txt") && listed.contains("sub"))
        #expect(!listed.contains(".stats") && !listed.contains(".config"))
        let ino = try vfs.lookup(parent: VFS.rootIno, name: "a.txt").attr.ino
        #expect(try content(vfs, ino) == Data("abc".utf8))

        let stats = try vfs.lookup(parent: VFS.rootIno, name: ".stats")
        #expect(stats.attr.ino == VFS.statsIno && stats.attr.mode == 0o100444)
        let text = String(decoding: try content(vfs, stats.attr.ino), as: UTF8.self)
        for name in ["juicefs_fuse_ops_io_total", "juicefs_object_request_data_bytes_GET", "juicefs_blockcache_hits",
                     "garagetytus_fuse_read_bytes_total 3", "garagetytus_inodes", "garagetytus_uptime_seconds", "garagetytus_uploads_pending 0"] {
            #expect(text.contains(name), "missing \(name)")
        }
        let config = try vfs.lookup(parent: VFS.rootIno, name: ".config")
        #expect(config.attr.ino == VFS.configIno && config.attr.mode == 0o100444)
        let json = try JSONSerialization.jsonObject(with: try content(vfs, config.attr.ino)) as? [String: Any]
        #expect(json?["bucket"] as? String == "b")
        #expect(json?["read_only"] as? Bool == false)

        // Both refuse writes with EROFS; creating either name at the top is refused too.
        for v in [stats, config] {
            let e = #expect(throws: VFSError.self) { _ = try vfs.open(v.attr.ino, write: true) }
            #expect(e?.errno == EROFS)
            let t = #expect(throws: VFSError.self) { _ = try vfs.setattr(v.attr.ino, AttrChange(size: 0)) }
            #expect(t?.errno == EROFS)
        }
        for name in [".stats", ".config"] {
            let e = #expect(throws: VFSError.self) { _ = try vfs.create(parent: VFS.rootIno, name: name, mode: 0o644, uid: 0, gid: 0) }
            #expect(e?.errno == EEXIST)
        }
        // Never uploaded: no PUT or copy reached the store, and the bucket's objects are untouched.
        #expect(counted.calls(.put) == 0 && counted.calls(.copy) == 0 && counted.calls(.delete) == 0)
        #expect(try store.read(".stats", range: 0..<Int64.max, etag: nil) == Data("the bucket's own .stats".utf8))
        #expect(try store.read(".config", range: 0..<Int64.max, etag: nil) == Data("the bucket's own .config".utf8))
    }

    @Test func belowTheTopTheNamesAreOrdinaryFiles() throws {
        let (_, _, vfs) = try fixture()
        let sub = try vfs.lookup(parent: VFS.rootIno, name: "sub").attr.ino
        #expect(try vfs.readdir(sub).map(\.name).contains(".stats"))
        let inSub = try vfs.lookup(parent: sub, name: ".stats").attr
        #expect(!VFS.isVirtual(inSub.ino))
        #expect(try content(vfs, inSub.ino) == Data("sub stats".utf8))
        let missing = #expect(throws: VFSError.self) { try vfs.lookup(parent: sub, name: ".config") }
        #expect(missing?.errno == ENOENT)
    }
}
