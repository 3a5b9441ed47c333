@testable import Daemon
import Foundation
import Testing

@Suite struct SentinelLogicTests {
    @Test func noRecordedPIDIsClean() {
        #expect(SentinelState.classify(lockAcquired: true, recordedPID: nil, isAlive: { _ in true }) == .clean)
    }

    @Test func recordedDeadPIDIsUnclean() {
        #expect(SentinelState.classify(lockAcquired: true, recordedPID: 42, isAlive: { _ in false })
            == .unclean(previousPID: 42, pidStillInUse: false))
    }

    @Test func recordedPIDReusedByAnotherProcessIsStillUnclean() {
        #expect(SentinelState.classify(lockAcquired: true, recordedPID: 42, isAlive: { $0 == 42 })
            == .unclean(previousPID: 42, pidStillInUse: true))
    }

    @Test func heldLockMeansRunning() {
        #expect(SentinelState.classify(lockAcquired: false, recordedPID: 7, isAlive: { _ in true }) == .running(pid: 7))
    }
}

@Suite struct SentinelFileTests {
    func tempPath() -> String { NSTemporaryDirectory() + "sentinel-\(UUID().uuidString).lock" }

    @Test func cleanCycleThenCrashCycle() throws {
        let path = tempPath()
        defer { unlink(path) }
        let (s1, st1) = try Sentinel.acquire(path: path, isAlive: { _ in false })
        #expect(st1 == .clean)
        try s1.commit(pid: 4242)
        // A second daemon on the same home is refused while the first holds the lock.
        #expect(throws: DaemonError.self) { _ = try Sentinel.acquire(path: path) }
        s1.release()
        #expect(!FileManager.default.fileExists(atPath: path))

        let (s2, st2) = try Sentinel.acquire(path: path, isAlive: { _ in false })
        #expect(st2 == .clean)
        try s2.commit(pid: 5151)
        s2.abandon()  // the lock goes, the file stays: what kill -9 leaves behind
        let (s3, st3) = try Sentinel.acquire(path: path, isAlive: { _ in false })
        #expect(st3 == .unclean(previousPID: 5151, pidStillInUse: false))
        s3.release()
    }

    @Test func refusedStartKeepsTheEvidence() throws {
        let path = tempPath()
        defer { unlink(path) }
        try "777\n".write(toFile: path, atomically: true, encoding: .utf8)
        let (s, st) = try Sentinel.acquire(path: path, isAlive: { _ in false })
        #expect(st == .unclean(previousPID: 777, pidStillInUse: false))
        s.abandon()  // e.g. a port was in use: nothing committed
        let (s2, st2) = try Sentinel.acquire(path: path, isAlive: { _ in false })
        #expect(st2 == .unclean(previousPID: 777, pidStillInUse: false))
        s2.release()
    }

    @Test func uncleanCounterPersistsAndRefusesGarbage() throws {
        let path = tempPath()
        defer { unlink(path) }
        let c = UncleanCounter(path: path)
        #expect(try c.read() == 0)
        #expect(try c.increment() == 1)
        #expect(try c.increment() == 2)
        #expect(try UncleanCounter(path: path).read() == 2)
        try "two\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: DaemonError.self) { _ = try c.increment() }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "two\n")
    }

    @Test func backoffDoublesFromOneToThirtySeconds() {
        #expect((0..<7).map { ProcessSupervisor.backoffSeconds(attempt: $0) } == [1, 2, 4, 8, 16, 30, 30])
    }
}
