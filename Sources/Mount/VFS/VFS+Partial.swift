import Foundation

extension VFS {
    /// Bytes are fetched from the base object in blocks of this size (aligned), so reading a
    /// partly staged file sequentially costs one GET per block, not one per FUSE read.
    static let fillBlock: Int64 = 4 << 20

    /// Makes `range` of a partly staged file present in its staging file, fetching what is
    /// missing from the base object (`.stale` if that object changed since the file was opened).
    func fill(_ ino: UInt64, _ range: Range<Int64>) throws {
        guard let o = state.withLock({ $0.open[ino] }), let local = o.local, let base = o.base, !range.isEmpty else { return }
        let lo = range.lowerBound / Self.fillBlock * Self.fillBlock
        let hi = min(base.size, (range.upperBound + Self.fillBlock - 1) / Self.fillBlock * Self.fillBlock)
        guard lo < hi else { return }
        for gap in local.missing(in: lo..<hi) {
            let data = try store.read(base.key, range: gap, etag: base.etag)
            guard data.count == gap.count else { throw VFSError(.stale, "\(base.key) is shorter than when it was opened") }
            stagingLock.lock()
            defer { stagingLock.unlock() }
            // Only what is still missing: a write may have landed in the gap while it was fetched.
            let still = state.withLock { $0.open[ino]?.local?.missing(in: gap) ?? [] }
            for r in still {
                let piece = data.subdata(in: Int(r.lowerBound - gap.lowerBound)..<Int(r.upperBound - gap.lowerBound))
                try o.staging.write(piece, offset: r.lowerBound)
            }
            state.withLock { $0.open[ino]?.local?.insert(gap) }
        }
    }

    /// Fetches every missing byte, so the staging file alone is the file (before its object is
    /// renamed or deleted while it is open). When the object was replaced under the file's
    /// changes, they are lost (see `OpenFile.conflicted`): nothing is fetched, the caller goes on
    /// with the other client's object.
    func materialize(_ ino: UInt64) throws {
        guard let size = state.withLock({ s in s.open[ino].flatMap { $0.local != nil && !$0.conflicted ? $0.size : nil } }) else { return }
        do {
            try fill(ino, 0..<size)
        } catch let e as VFSError where e.code == .stale {
            state.withLock { $0.open[ino]?.conflicted = true }
            return
        }
        state.withLock { s in
            s.open[ino]?.local = nil
            s.open[ino]?.base = nil
        }
    }
}
