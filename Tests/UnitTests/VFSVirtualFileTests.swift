import Foundation
import Mount
import Testing
import TestSupport

@Suite struct VFSVirtualFileTests {
    @Test func statsIsReadableByNameNotListedAndReadOnly() throws {
        let store = InMemoryObjectStore()
        try store.put("a.txt", data: Data("abc".utf8), metadata: [:])
        var options = VFSOptions(defaults: AttributeDefaults(uid: 0, gid: 0))
        options.info = ["bucket": "b"]
        let vfs = VFS(store: store, options: options)
        #expect(!(try vfs.readdir(VFS.rootIno).map(\.name).contains(".stats")))
        let ino = try vfs.lookup(parent: VFS.rootIno, name: "a.txt").attr.ino
        let fh = try vfs.open(ino, write: false)
        _ = try vfs.read(fh, offset: 0, size: 10)
        vfs.release(fh)

        let stats = try vfs.lookup(parent: VFS.rootIno, name: ".stats")
        #expect(stats.attr.mode == 0o100444)
        let sfh = try vfs.open(stats.attr.ino, write: false)
        let text = String(decoding: try vfs.read(sfh, offset: 0, size: 1 << 20), as: UTF8.self)
        vfs.release(sfh)
        for name in ["juicefs_fuse_ops_io_total", "juicefs_object_request_data_bytes_GET", "juicefs_blockcache_hits",
                     "garagetytus_fuse_read_bytes_total 3", "garagetytus_inodes", "garagetytus_uptime_seconds", "garagetytus_uploads_pending 0"] {
            #expect(text.contains(name), "missing \(name)")
        }
        do { _ = try vfs.open(stats.attr.ino, write: true); Issue.record(".stats opened for writing") } catch let e as VFSError { #expect(e.errno == EROFS) }

        let config = try vfs.lookup(parent: VFS.rootIno, name: ".config")
        let cfh = try vfs.open(config.attr.ino, write: false)
        let json = try JSONSerialization.jsonObject(with: try vfs.read(cfh, offset: 0, size: 1 << 16)) as? [String: Any]
        #expect(json?["bucket"] as? String == "b")
        #expect(json?["read_only"] as? Bool == false)
        // Lookups of other names in subdirectories are not virtual.
        #expect(throws: VFSError.self) { try vfs.lookup(parent: ino, name: ".stats") }
    }
}
