import Foundation
import Mount
import Testing
import TestSupport

/// A file written sequentially is uploaded while it is written, so `close` only sends the tail.
@Suite struct VFSUploadStreamTests {
    let mib = 1 << 20

    func fixture() -> (InMemoryObjectStore, FaultInjectingStore, VFS) {
        let base = InMemoryObjectStore()
        let counted = FaultInjectingStore(base)
        return (base, counted, VFS(store: counted, options: VFSOptions(defaults: AttributeDefaults(uid: 0, gid: 0))))
    }

    func block(_ i: Int) -> Data { Data(repeating: UInt8(truncatingIfNeeded: i &* 37 &+ 1), count: mib) }

    func waitFor(_ what: () -> Bool, sourceLocation: SourceLocation = #_sourceLocation) {
        let arrived = eventually(timeout: 30, every: 0.005, what)
        #expect(arrived, "timed out", sourceLocation: sourceLocation)
    }

    @Test func partsAreSentBeforeCloseAndTheObjectIsWhole() throws {
        let (base, counted, v) = fixture()
        let (_, fh) = try v.create(parent: VFS.rootIno, name: "stream.bin", mode: 0o644, uid: 0, gid: 0)
        var expected = Data()
        for i in 0..<40 {
            _ = try v.write(fh, offset: Int64(i * mib), data: block(i))
            expected.append(block(i))
        }
        waitFor { counted.calls(.put) >= 1 + 3 }  // the upload's start and parts 1–3 at least
        #expect(counted.calls(.put) >= 4)
        #expect(!base.keys.contains("stream.bin"))  // nothing visible before close
        try v.flush(fh)
        v.release(fh)
        #expect(try base.read("stream.bin", range: 0..<Int64.max, etag: nil) == expected)
        #expect(base.openUploads == 0)
    }

    /// The object's mtime is when its upload started (the metadata goes with the multipart
    /// upload's start), not when the file was closed.
    @Test func theMtimeIsTheUploadsStart() throws {
        let base = InMemoryObjectStore()
        let counted = FaultInjectingStore(base)
        let clock = ManualClock()
        let v = VFS(store: counted, options: VFSOptions(defaults: AttributeDefaults(uid: 0, gid: 0)), clock: clock)
        let (_, fh) = try v.create(parent: VFS.rootIno, name: "f", mode: 0o644, uid: 0, gid: 0)
        clock.advance(10)
        let started = clock.now()
        for i in 0..<24 { _ = try v.write(fh, offset: Int64(i * mib), data: block(i)) }
        waitFor { counted.partsSent.contains(1) }
        clock.advance(100)
        try v.flush(fh)
        v.release(fh)
        #expect(try base.head("f").metadata["mtime"] == String(Int64(started)))
    }

    @Test func rewritingASentPartSendsItAgain() throws {
        let (base, counted, v) = fixture()
        let (_, fh) = try v.create(parent: VFS.rootIno, name: "f", mode: 0o644, uid: 0, gid: 0)
        var expected = Data()
        for i in 0..<32 {
            _ = try v.write(fh, offset: Int64(i * mib), data: block(i))
            expected.append(block(i))
        }
        waitFor { counted.partsSent.contains(1) }
        #expect(counted.partsSent.filter { $0 == 1 }.count == 1)  // part 1 went out while writing
        _ = try v.write(fh, offset: 100, data: Data("rewritten".utf8))
        expected.replaceSubrange(100..<109, with: Data("rewritten".utf8))
        try v.flush(fh)
        v.release(fh)
        #expect(counted.partsSent.filter { $0 == 1 }.count == 2, "parts sent: \(counted.partsSent)")  // and again after the rewrite
        #expect(try base.read("f", range: 0..<Int64.max, etag: nil) == expected)
    }

    @Test func truncateDuringTheUploadAndFailedPartsStillGiveTheRightObject() throws {
        let (base, counted, v) = fixture()
        let (e, fh) = try v.create(parent: VFS.rootIno, name: "f", mode: 0o644, uid: 0, gid: 0)
        counted.failNext(.put, times: 2)  // the start of the upload and a part fail
        var expected = Data()
        for i in 0..<30 {
            _ = try v.write(fh, offset: Int64(i * mib), data: block(i))
            expected.append(block(i))
        }
        try v.truncate(e.attr.ino, to: Int64(20 * mib) + 7)
        expected = expected.prefix(20 * mib + 7)
        for i in 0..<10 {
            _ = try v.write(fh, offset: Int64(20 * mib + 7 + i * mib), data: block(100 + i))
            expected.append(block(100 + i))
        }
        try v.flush(fh)
        v.release(fh)
        #expect(try base.read("f", range: 0..<Int64.max, etag: nil) == expected)
        #expect(base.openUploads == 0)
    }

    @Test func aFileClosedWithoutASuccessfulFlushLeavesNoUploadBehind() throws {
        let (base, counted, v) = fixture()
        let (_, fh) = try v.create(parent: VFS.rootIno, name: "f", mode: 0o644, uid: 0, gid: 0)
        for i in 0..<24 { _ = try v.write(fh, offset: Int64(i * mib), data: block(i)) }
        waitFor { counted.calls(.put) >= 2 }
        counted.failNext(.put, times: 50)
        #expect(throws: VFSError.self) { try v.flush(fh) }
        v.release(fh)
        #expect(base.openUploads == 0)
        #expect(!base.keys.contains("f"))
    }

    @Test func anUploadThatFailsWithNotFoundIsEIONotENOENT() throws {
        let (_, counted, v) = fixture()
        let (_, fh) = try v.create(parent: VFS.rootIno, name: "f", mode: 0o644, uid: 0, gid: 0)
        _ = try v.write(fh, offset: 0, data: Data("x".utf8))
        counted.failNext(.put, with: .notFound)
        do {
            try v.flush(fh)
            Issue.record("the failed upload was reported as success")
        } catch let e as VFSError {
            #expect(e.errno == EIO)
        }
        try v.flush(fh)  // and the next close retries
        v.release(fh)
    }

    @Test func anUploadTheStoreLostIsStoredInOneGoAtClose() throws {
        let (base, counted, v) = fixture()
        let (_, fh) = try v.create(parent: VFS.rootIno, name: "f", mode: 0o644, uid: 0, gid: 0)
        var expected = Data()
        for i in 0..<20 {
            _ = try v.write(fh, offset: Int64(i * mib), data: block(i))
            expected.append(block(i))
        }
        waitFor { counted.calls(.put) >= 2 }  // the upload started and its first part went
        counted.failNext(.put, times: 1, with: .notFound)  // "NoSuchUpload" for what close sends
        try v.flush(fh)
        v.release(fh)
        #expect(try base.read("f", range: 0..<Int64.max, etag: nil) == expected)
        #expect(base.openUploads == 0)
    }
}
