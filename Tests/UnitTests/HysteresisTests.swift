@testable import Daemon
import Foundation
import Synchronization
import Testing
import TestSupport

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
    func freePercent(of path: String) throws -> Double { readings.count > 1 ? readings.removeFirst() : readings[0] }  // the last one repeats
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

    /// On a cluster the lower of this host's disk and the cluster's free volume slots decides,
    /// and the log says which one it was.
    @Test func theClustersFreeSlotsTurnTheDaemonReadOnlyToo() throws {
        let dir = NSTemporaryDirectory() + "wd-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let state = DaemonState(uncleanShutdownTotal: 0)
        let wd = Watchdog(paths: Paths(configDir: dir, dataDir: dir), config: Config().watchdog, probe: ScriptedProbe([60, 60, 60]),
                          state: state, metrics: DaemonMetrics(uncleanShutdownTotal: 0), logger: .init(label: "test"))
        // What a master of SeaweedFS 4.48 answers (trimmed): 300 slots, 9 free.
        let status = Data(#"{"Topology":{"Max":300,"Free":9,"DataCenters":[]},"Version":"8000GB 4.48"}"#.utf8)
        let clusterFree = try #require(ClusterEngine.freePercent(dirStatus: status))
        #expect(clusterFree == 3)
        #expect(ClusterEngine.freePercent(dirStatus: Data(#"{"Topology":{"Max":0,"Free":0}}"#.utf8)) == nil)
        wd.tick(now: Date(timeIntervalSince1970: 1000), engineFree: 50)
        #expect(state.mode == .rw)
        wd.tick(now: Date(timeIntervalSince1970: 1001), engineFree: clusterFree)
        #expect(state.mode == .ro && state.snapshot.diskFreePct == 3)
        wd.tick(now: Date(timeIntervalSince1970: 1002), engineFree: 40)
        #expect(state.mode == .rw)
    }

    /// Below the read-write mark the engine is asked to give back the space of deleted objects:
    /// once, not at every tick, one at a time, and again only after a minute.
    @Test func lowDiskAsksTheEngineToReclaimAtMostOnceAMinute() async throws {
        let dir = NSTemporaryDirectory() + "wd-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let asked = Mutex(0)
        let gate = Mutex(true)  // while true, a reclaim the test holds keeps running
        let wd = Watchdog(paths: Paths(configDir: dir, dataDir: dir), config: Config().watchdog, probe: ScriptedProbe([40, 14, 12, 8, 8, 8, 8, 8, 8, 8]),
                          state: DaemonState(uncleanShutdownTotal: 0), metrics: DaemonMetrics(uncleanShutdownTotal: 0),
                          logger: .init(label: "test"), reclaim: {
                              let n = asked.withLock { $0 += 1; return $0 }
                              while n == 2, gate.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(10)) }
                              return "done"
                          })
        /// Polls (without blocking a thread the reclaim's task may need) for up to 10 s.
        func until(_ condition: () -> Bool) async -> Bool {
            for _ in 0..<200 {
                if condition() { return true }
                try? await Task.sleep(for: .milliseconds(50))
            }
            return false
        }
        func tick(_ t: Double) { wd.tick(now: Date(timeIntervalSince1970: t)) }
        tick(1000)  // 40 % asks nothing
        #expect(wd.reclaimState.last == nil)
        for t in [1001.0, 1002, 1003] { tick(t) }  // below the mark: asked once, at the first such tick
        #expect(wd.reclaimState.last == Date(timeIntervalSince1970: 1001))
        #expect(await until { asked.withLock { $0 } == 1 && !wd.reclaimState.running })
        // Finished, but not a minute ago: a tick 30 s later starts nothing (decided within the tick).
        tick(1030)
        #expect(wd.reclaimState.last == Date(timeIntervalSince1970: 1001) && !wd.reclaimState.running)
        // A minute after the first: asked again; while that one runs, a later tick starts no other.
        tick(1065)
        #expect(wd.reclaimState.last == Date(timeIntervalSince1970: 1065) && wd.reclaimState.running)
        #expect(await until { asked.withLock { $0 } == 2 })
        tick(1200)
        #expect(wd.reclaimState.last == Date(timeIntervalSince1970: 1065))
        gate.withLock { $0 = false }
        #expect(await until { !wd.reclaimState.running })
        #expect(asked.withLock { $0 } == 2)
    }
}
