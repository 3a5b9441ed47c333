@testable import Daemon
import Foundation
import Testing

@Suite struct HysteresisTests {
    let h = Hysteresis(roBelowPct: 10, rwAbovePct: 15)

    @Test(arguments: [
        (Mode.rw, 50.0, Mode.rw), (.rw, 10.0, .rw), (.rw, 9.99, .ro), (.rw, 0, .ro),
        (.ro, 9.0, .ro), (.ro, 12.0, .ro), (.ro, 15.0, .ro), (.ro, 15.01, .rw), (.ro, 100, .rw),
        (.rw, 12.0, .rw),
    ])
    func nextMode(previous: Mode, free: Double, expected: Mode) {
        #expect(h.next(previous: previous, freePct: free) == expected)
    }

    @Test func wobblingAroundOneThresholdDoesNotFlap() {
        var mode = Mode.rw
        var flips = 0
        for reading in [11.0, 9.5, 10.5, 9.8, 12, 14.9, 13, 15.5, 14, 11] {
            let next = h.next(previous: mode, freePct: reading)
            if next != mode { flips += 1 }
            mode = next
        }
        #expect(flips == 2)  // down once at 9.5, up once at 15.5
        #expect(mode == .rw)
    }
}

/// A disk probe that returns scripted readings.
final class ScriptedProbe: DiskProbe, @unchecked Sendable {
    // SAFETY: used from one test thread at a time.
    var readings: [Double]
    init(_ readings: [Double]) { self.readings = readings }
    func freePercent(of path: String) throws -> Double { readings.removeFirst() }
}

@Suite struct WatchdogTickTests {
    @Test func tickFlipsModeUpdatesMetricsAndWritesWatchdogJSON() throws {
        let dir = NSTemporaryDirectory() + "wd-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let paths = Paths(configDir: dir, dataDir: dir)
        let state = DaemonState(uncleanShutdownTotal: 0)
        let metrics = DaemonMetrics(uncleanShutdownTotal: 0)
        let wd = Watchdog(paths: paths, config: Config().watchdog, probe: ScriptedProbe([40, 8, 12, 16]),
                          state: state, metrics: metrics, logger: .init(label: "test"))
        var modes: [Mode] = []
        for i in 0..<4 {
            wd.tick(now: Date(timeIntervalSince1970: 1000 + Double(i)))
            modes.append(state.mode)
            let record = try JSONDecoder().decode(WatchdogRecord.self, from: Data(contentsOf: URL(fileURLWithPath: paths.watchdogFile)))
            #expect(record.mode == state.mode)
            #expect(record.lastTickUnixSeconds == 1000 + Double(i))
        }
        #expect(modes == [.rw, .ro, .ro, .rw])
        let text = metrics.render(startedAt: Date())
        #expect(text.contains("garagetytus_mode{mode=\"rw\"} 1"))
        #expect(!text.contains("mode=\"ro\""))
        #expect(text.contains("garagetytus_disk_free_pct 16"))
        #expect(text.contains("garagetytus_watchdog_last_tick_unix_seconds 1003"))
    }
}
