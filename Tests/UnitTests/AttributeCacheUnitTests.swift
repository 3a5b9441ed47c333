import Foundation
@testable import Mount
import S3
import Testing

/// The attribute cache alone: which HEAD answers it keeps, which listing entries it may speak
/// for, its bound, and a damaged file.
@Suite struct AttributeCacheUnitTests {
    static func tempPath() -> String { NSTemporaryDirectory() + "attrs-\(UUID().uuidString)/cache.sqlite" }

    static func head(_ key: String, etag: String = "e1", size: Int64 = 3, modified: Date, mode: String = "33188") -> ObjectMeta {
        ObjectMeta(key: key, size: size, etag: etag, lastModified: modified, metadata: ["mode": mode], hasMetadata: true)
    }

    @Test func onlyUnchangedEntriesOfSettledObjectsAreFilled() {
        let path = Self.tempPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let now = Date()
        let old = Date(timeIntervalSince1970: (now.timeIntervalSince1970 - 60).rounded(.down))
        let cache = AttributeCache(path: path)
        cache.keep(Self.head("a", modified: old), now: now)
        cache.keep(Self.head("fresh", modified: now.addingTimeInterval(-1)), now: now)  // may still change within its second
        #expect(cache.count == 1)
        let listed = [
            ObjectMeta(key: "a", size: 3, etag: "e1", lastModified: old.addingTimeInterval(0.4)),  // same second
            ObjectMeta(key: "fresh", size: 3, etag: "e1", lastModified: now.addingTimeInterval(-1)),
        ]
        let filled = cache.fill(listed)
        #expect(filled[0].hasMetadata && filled[0].metadata == ["mode": "33188"])
        #expect(!filled[1].hasMetadata)
        // Any of ETag, size or LastModified changed: not filled.
        for changed in [ObjectMeta(key: "a", size: 3, etag: "e2", lastModified: old), ObjectMeta(key: "a", size: 4, etag: "e1", lastModified: old),
                        ObjectMeta(key: "a", size: 3, etag: "e1", lastModified: old.addingTimeInterval(1))] {
            #expect(!cache.fill([changed])[0].hasMetadata)
        }
        // Another process (a later mount) reads what this one kept.
        #expect(AttributeCache(path: path).fill([listed[0]])[0].hasMetadata)
    }

    @Test func itKeepsAtMostItsCapacity() {
        let path = Self.tempPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let cache = AttributeCache(path: path, capacity: 500)
        let old = Date(timeIntervalSince1970: 1_700_000_000)
        for i in 0..<3000 { cache.keep(Self.head("k\(i)", modified: old)) }
        #expect(cache.count <= 1500)
        #expect(cache.fill([ObjectMeta(key: "k2999", size: 3, etag: "e1", lastModified: old)])[0].hasMetadata)
        #expect(!cache.fill([ObjectMeta(key: "k0", size: 3, etag: "e1", lastModified: old)])[0].hasMetadata)
    }

    @Test func aDamagedFileIsReplacedAndTold() throws {
        let path = Self.tempPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: path))
        let told = LockedLines()
        let cache = AttributeCache(path: path, onError: { told.append($0) })
        #expect(told.lines.count == 1 && told.lines[0].contains("unreadable"))
        let old = Date(timeIntervalSince1970: 1_700_000_000)
        cache.keep(Self.head("a", modified: old))
        #expect(cache.fill([ObjectMeta(key: "a", size: 3, etag: "e1", lastModified: old)])[0].hasMetadata)
    }
}

final class LockedLines: @unchecked Sendable {
    // SAFETY: `all` is only touched with `lock` held.
    private let lock = NSLock()
    private var all: [String] = []
    func append(_ s: String) { lock.lock(); all.append(s); lock.unlock() }
    var lines: [String] { lock.lock(); defer { lock.unlock() }; return all }
}
