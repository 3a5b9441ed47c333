import Foundation

extension VFS {
    public static func isVirtual(_ ino: UInt64) -> Bool { ino == statsIno || ino == configIno }

    /// What the kernel and libfuse agreed at INIT (shown in `.config`).
    public func noteKernel(_ facts: [String: String]) { kernel.withLock { $0.merge(facts) { _, b in b } } }

    /// Size 0, as /proc files: the content is a snapshot taken at `open` (read with direct I/O
    /// to its end), so no size given before could be right — a reader that trusted one would cut
    /// a snapshot that grew since.
    func virtualAttr(_ ino: UInt64) throws -> FileAttr {
        FileAttr(ino: ino, size: 0, mode: NodeKind.file.typeBits | 0o444,
                 uid: options.defaults.uid, gid: options.defaults.gid, mtime: clock.now(), nlink: 1)
    }

    /// `.stats`: Prometheus text of this mount's counters. `.config`: the mount's options (no secrets).
    func virtualContent(_ ino: UInt64) throws -> String {
        if ino == Self.statsIno {
            let (inodes, pending) = state.withLock { s in (s.nodes.count, s.open.values.filter(\.dirty).count) }
            return metrics.render(inodes: inodes, pendingUploads: pending, blockCache: options.blockCache?.stats,
                                  feedUp: feed.withLock { $0.until } > clock.now())
        }
        let info: [String: Any] = ["prefix": options.prefix, "metadata_ttl_seconds": options.metadataTTL,
                                   "read_only": options.readOnly, "cache_dir": options.cacheDir, "extended_attributes": options.extendedAttributes,
                                   "data_cache": options.blockCache.map { ["directory": $0.options.directory, "block_size": $0.blockSize] as [String: Any] } ?? false,
                                   "default_uid": options.defaults.uid, "default_gid": options.defaults.gid,
                                   "default_file_mode": String(options.defaults.fileMode, radix: 8),
                                   "default_dir_mode": String(options.defaults.directoryMode, radix: 8)]
            .merging(options.info) { a, _ in a }
            .merging(kernel.withLock { $0 }) { a, _ in a }
        let data = try JSONSerialization.data(withJSONObject: info, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
