import Foundation

/// Pages handed to the kernel before it asks: when a file read at random is fetched whole into
/// the block cache (see `CachedReads`), each window fetched also goes into the kernel's page
/// cache of the open inode (`KernelNotify.store`), so the reads that follow are answered by the
/// kernel without a FUSE round trip each.
///
/// What keeps it true: the kernel may be given pages of version E of an inode only while
/// `pageCache[ino] == E` (the version whose pages it keeps), the node is at E, nothing local is
/// staged for the inode, and a reader has it open at E. Pages are handed over under the inode's
/// `pageGate`, with that checked inside; whatever ends it — a write or truncate staging the file,
/// an open that finds another version, another client's change — changes the state first and then
/// waits for the gate (`closePages`), so no handover of an old version lands after it.
extension VFS {
    /// Pages go to the kernel this many bytes at a time.
    static let pageHandoverSize = 1 << 20

    /// Hands `bytes` (version `etag` of `key`, at `offset`) to the page cache of the inode a reader
    /// has open at that version, if the rule above allows it; else does nothing.
    func offerPages(key: String, etag: String, offset: Int64, bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty, let k = kernelNotify.withLock({ $0 }) else { return }
        let end = offset + Int64(bytes.count)
        guard let ino = pagesTarget(key: key, etag: etag, end: end) else { return }
        let handed = pageGate.withExclusive(ino) { () -> Bool in
            guard pagesTarget(key: key, etag: etag, end: end) == ino else { return false }
            var at = 0
            while at < bytes.count {
                let n = min(Self.pageHandoverSize, bytes.count - at)
                k.store(ino, offset + Int64(at), UnsafeRawBufferPointer(rebasing: bytes[at ..< at + n]))
                at += n
            }
            return true
        }
        if handed { metrics.pagesHandedOver(bytes.count) }
    }

    /// The inode a reader has open at version `etag` of `key`, when its pages up to `end` may go
    /// to the kernel now.
    private func pagesTarget(key: String, etag: String, end: Int64) -> UInt64? {
        state.withLock { s -> UInt64? in
            guard let h = s.handles.values.first(where: { $0.key == key && $0.etag == etag && !$0.writable && $0.snapshot == nil }),
                  s.open[h.ino] == nil, s.pageCache[h.ino] == etag, let n = s.nodes[h.ino], n.etag == etag, end <= n.size
            else { return nil }
            return h.ino
        }
    }

    /// Waits for a handover to the inode's pages in progress; called after the state changed so
    /// that no further one starts (see above).
    func closePages(_ ino: UInt64) {
        pageGate.withExclusive(ino) {}
    }
}
