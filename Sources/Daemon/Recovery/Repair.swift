import Foundation
import Logging

/// What a repair run did.
public struct RepairReport: Codable, Sendable, Equatable {
    public var trigger: String
    public var startedAt: Date
    public var seconds: Double
    public var steps: [RepairStep]
    public var ok: Bool { steps.allSatisfy(\.ok) }

    enum CodingKeys: String, CodingKey {
        case trigger, steps, seconds, ok
        case startedAt = "started_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(trigger, forKey: .trigger)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(steps, forKey: .steps)
        try c.encode(ok, forKey: .ok)
    }

    public init(trigger: String, startedAt: Date, seconds: Double, steps: [RepairStep]) {
        self.trigger = trigger
        self.startedAt = startedAt
        self.seconds = seconds
        self.steps = steps
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        trigger = try c.decode(String.self, forKey: .trigger)
        startedAt = try c.decode(Date.self, forKey: .startedAt)
        seconds = try c.decode(Double.self, forKey: .seconds)
        steps = try c.decode([RepairStep].self, forKey: .steps)
    }
}

/// Repair after an unclean shutdown (or on demand): the state DB's integrity check, then the
/// engine's own consistency check, within a budget. Failures are reported, never thrown.
public struct Repair: Sendable {
    let store: StateStore
    let engine: any StorageEngine
    let logger: Logger
    let budget: Duration

    public init(store: StateStore, engine: any StorageEngine, logger: Logger, budget: Duration = .seconds(15)) {
        self.store = store
        self.engine = engine
        self.logger = logger
        self.budget = budget
    }

    /// `progress` hears which check runs now (the CLI shows it on a terminal).
    public func run(trigger: String, progress: (@Sendable (String) -> Void)? = nil) async -> RepairReport {
        let started = Date()
        logger.notice("repair tables: starting (\(trigger), budget \(budget))")
        progress?("repair: checking the state database")
        var steps = [store.integrityCheck()]
        progress?("repair: the engine's own consistency checks (up to \(budget))")
        steps += await engine.repair(budget: budget)
        for s in steps {
            if s.ok {
                logger.notice("repair tables: \(s.name): \(s.detail)")
            } else {
                logger.warning("repair tables: \(s.name) failed: \(s.detail)")
            }
        }
        let report = RepairReport(trigger: trigger, startedAt: started, seconds: Date().timeIntervalSince(started), steps: steps)
        logger.notice("repair tables: finished in \(String(format: "%.2f", report.seconds)) s, \(report.ok ? "all checks passed" : "with warnings")")
        store.record("repair", "\(trigger): " + steps.map { "\($0.name)=\($0.ok ? "ok" : "failed")" }.joined(separator: ", "))
        return report
    }
}
