import CGaragetytus
import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The block cache's files: their names, their header, the descriptors kept open, the disk's room.
extension BlockCache {
    /// A block file open for reading, closed when the last reader lets go of it.
    final class OpenBlock: Sendable {
        let fd: Int32
        init(_ fd: Int32) { self.fd = fd }
        deinit { close(fd) }
    }

    /// How many block files stay open for reading at most.
    public static let openFilesLimit = 256

    /// The last `limit` block files read, by name (the first opened goes first).
    struct OpenFiles {
        var files: [String: OpenBlock] = [:]
        var order: [String] = []
        let limit = BlockCache.openFilesLimit

        mutating func insert(_ name: String, _ file: OpenBlock) {
            if files.updateValue(file, forKey: name) == nil { order.append(name) }
            while order.count > limit { files[order.removeFirst()] = nil }
        }

        mutating func remove(_ name: String) {
            guard files.removeValue(forKey: name) != nil else { return }
            order.removeAll { $0 == name }
        }
    }

    /// The file name of a block: a hash of the object's key and ETag, and the block's index.
    static func name(key: String, etag: String, index: Int64) -> String {
        "\(versionHash(key: key, etag: etag))-\(index)"
    }

    /// 128 bits of SHA-256 over key, NUL, ETag, in hex.
    static func versionHash(key: String, etag: String) -> String {
        var h = SHA256()
        h.update(data: Array(key.utf8))
        h.update(data: [0])
        h.update(data: Array(etag.utf8))
        let digits = Array("0123456789abcdef".utf8)
        var hex = [UInt8]()
        hex.reserveCapacity(32)
        for b in h.finalize().prefix(16) {
            hex.append(digits[Int(b >> 4)])
            hex.append(digits[Int(b & 15)])
        }
        return String(decoding: hex, as: UTF8.self)
    }

    /// `name`, with the hash of the versions read lately remembered (a read of 4 KiB should not
    /// cost a SHA-256 of its key).
    func blockName(key: String, etag: String, index: Int64) -> String {
        let id = key + "\u{0}" + etag
        if let h = hashes.withLock({ $0[id] }) { return "\(h)-\(index)" }
        let h = Self.versionHash(key: key, etag: etag)
        hashes.withLock { m in
            if m.count >= 4096 { m.removeAll() }
            m[id] = h
        }
        return "\(h)-\(index)"
    }

    func path(_ name: String) -> String { "\(options.directory)/\(name.prefix(2))/\(name)" }

    /// magic, length (little-endian UInt64), CRC-32C of the body (little-endian UInt32), zeros.
    static func header(for data: UnsafeRawBufferPointer) -> [UInt8] {
        var out = magic
        withUnsafeBytes(of: UInt64(data.count).littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: gt_crc32c(data.baseAddress, data.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: [UInt8](repeating: 0, count: headerSize - out.count))
        return out
    }

    /// Whether a block file's header (magic, length, CRC-32C) says `body` is its sound content.
    static func verify(header: [UInt8], body: UnsafeRawBufferPointer) -> Bool {
        guard header.count == headerSize, Array(header[0..<8]) == magic else { return false }
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(header[8 + i]) << (8 * UInt64(i)) }
        var crc: UInt32 = 0
        for i in 0..<4 { crc |= UInt32(header[16 + i]) << (8 * UInt32(i)) }
        return length == UInt64(body.count) && crc == gt_crc32c(body.baseAddress, body.count)
    }

    /// Bytes free (for unprivileged users) and in all on the filesystem under `path` (or its
    /// parent, before the directory exists): one statvfs.
    static func disk(_ path: String) -> (free: Int64, size: Int64)? {
        var v = statvfs()
        guard statvfs(path, &v) == 0 || statvfs((path as NSString).deletingLastPathComponent, &v) == 0 else { return nil }
        return (Int64(v.f_bavail) * Int64(v.f_frsize), Int64(v.f_blocks) * Int64(v.f_frsize))
    }
}
