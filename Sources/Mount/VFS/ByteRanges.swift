/// A set of byte offsets kept as sorted, disjoint, non-adjacent ranges: which parts of a
/// staging file hold the file's bytes (the rest is still only in the object it was opened from).
public struct ByteRanges: Sendable, Equatable {
    public private(set) var ranges: [Range<Int64>] = []

    public init(_ ranges: [Range<Int64>] = []) {
        for r in ranges { insert(r) }
    }

    public mutating func insert(_ r: Range<Int64>) {
        guard !r.isEmpty else { return }
        var lo = r.lowerBound, hi = r.upperBound
        var kept: [Range<Int64>] = []
        kept.reserveCapacity(ranges.count + 1)
        var placed = false
        for x in ranges {
            if x.upperBound < lo {
                kept.append(x)
            } else if x.lowerBound > hi {
                if !placed { kept.append(lo..<hi); placed = true }
                kept.append(x)
            } else {
                lo = min(lo, x.lowerBound)
                hi = max(hi, x.upperBound)
            }
        }
        if !placed { kept.append(lo..<hi) }
        ranges = kept
    }

    /// Drops everything at or beyond `size`.
    public mutating func cut(at size: Int64) {
        ranges = ranges.compactMap { $0.lowerBound >= size ? nil : $0.lowerBound..<min($0.upperBound, size) }
    }

    /// The parts of `r` not in the set, in order.
    public func missing(in r: Range<Int64>) -> [Range<Int64>] {
        var out: [Range<Int64>] = []
        var at = r.lowerBound
        for x in ranges where x.upperBound > at && x.lowerBound < r.upperBound {
            if x.lowerBound > at { out.append(at..<x.lowerBound) }
            at = max(at, x.upperBound)
            if at >= r.upperBound { break }
        }
        if at < r.upperBound { out.append(at..<r.upperBound) }
        return out
    }

    public func covers(_ r: Range<Int64>) -> Bool { missing(in: r).isEmpty }

    /// Whether any byte of `r` is in the set.
    public func intersects(_ r: Range<Int64>) -> Bool {
        ranges.contains { $0.lowerBound < r.upperBound && r.lowerBound < $0.upperBound }
    }
}
