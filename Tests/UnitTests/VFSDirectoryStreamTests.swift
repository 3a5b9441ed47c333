import Foundation
import Mount
import Synchronization
import Testing
import TestSupport

/// A directory's entries reach the caller (the kernel, through readdir) a listing page at a
/// time: the first page's names are handed over while the next page is still being fetched.
@Suite struct VFSDirectoryStreamTests {
    @Test func theFirstPagesNamesAreHandedOverBeforeTheNextPageArrives() throws {
        let base = InMemoryObjectStore()
        for i in 0..<10 { try base.put(String(format: "d/f%02d", i), data: Data("x".utf8), metadata: [:]) }
        try base.put("d/sub/inner", data: Data(), metadata: [:])
        let store = TwoPageStore(inner: base)
        let vfs = VFS(store: store, options: VFSOptions(defaults: AttributeDefaults(uid: 0, gid: 0)))
        let d = try vfs.lookup(parent: VFS.rootIno, name: "d").attr.ino
        let batches = Mutex<[[String]]>([])
        let first = DispatchSemaphore(value: 0)
        let listed = DispatchGroup()
        DispatchQueue.global().async(group: listed) {
            try? vfs.readdir(d) { batch in
                let n = batches.withLock { b -> Int in b.append(batch.map(\.name)); return b.count }
                if n == 1 { first.signal() }
            }
        }
        #expect(first.wait(timeout: .now() + 10) == .success, "the first page was handed over while the second was held")
        #expect(batches.withLock { $0 } == [[".", "..", "f00", "f01", "f02", "f03", "f04"]])
        store.secondPage.signal()
        #expect(listed.wait(timeout: .now() + 10) == .success)
        #expect(batches.withLock { $0.flatMap { $0 } } == [".", "..", "f00", "f01", "f02", "f03", "f04", "f05", "f06", "f07", "f08", "f09", "sub"])
        // The whole listing, as one array, is the same.
        store.secondPage.signal()
        #expect(try vfs.readdir(d).map(\.name) == batches.withLock { $0.flatMap { $0 } })
    }
}
