/// The daemon's write mode.
public enum Mode: String, Codable, Sendable, CaseIterable {
    /// Read-write.
    case rw
    /// Read-only: free disk space fell below the threshold; writes are refused.
    case ro
}

/// Mode flips: to `ro` below `roBelowPct` free, back to `rw` above `rwAbovePct` free; in between the
/// previous mode holds, so a reading that wobbles around one threshold does not flap.
public struct Hysteresis: Sendable, Equatable {
    public var roBelowPct: Double
    public var rwAbovePct: Double

    public init(roBelowPct: Double, rwAbovePct: Double) {
        precondition(roBelowPct < rwAbovePct, "hysteresis needs ro_below_pct < rw_above_pct")
        self.roBelowPct = roBelowPct
        self.rwAbovePct = rwAbovePct
    }

    /// The next mode: a pure function of the previous mode and the reading.
    public func next(previous: Mode, freePct: Double) -> Mode {
        switch previous {
        case .rw: return freePct < roBelowPct ? .ro : .rw
        case .ro: return freePct > rwAbovePct ? .rw : .ro
        }
    }
}
