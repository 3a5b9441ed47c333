import CFuseShim
import Foundation
import Glibc
@testable import Mount
import Testing

/// The thread-group lookup the mount does on every create, open for writing and flush.
@Suite struct ProcStatusTests {
    @Test func theThreadGroupOfAThreadIsItsProcess() throws {
        let me = try Data(contentsOf: URL(fileURLWithPath: "/proc/self/status"))
        #expect(ProcStatus.threadGroup(in: me) == getpid())
        // Every thread of this process (the test runner has several): its own id, this thread group.
        let tids = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").compactMap { Int32($0) }
        #expect(tids.contains { $0 != getpid() })
        for tid in tids {
            guard let status = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(getpid())/task/\(tid)/status")) else { continue }  // ended meanwhile
            #expect(ProcStatus.threadGroup(in: status) == getpid())
        }
    }

    @Test func onlyAProcessIdIsAThreadGroupLeader() throws {
        #expect(gt_is_thread_group_leader(getpid()) == 1)
        let others = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").compactMap { Int32($0) }.filter { $0 != getpid() }
        #expect(!others.isEmpty)
        #expect(others.contains { gt_is_thread_group_leader($0) == 0 })  // a thread may end meanwhile (-1)
        #expect(!others.contains { gt_is_thread_group_leader($0) == 1 })
        #expect(gt_is_thread_group_leader(Int32.max) == -1)
    }

    @Test func textWithoutAThreadGroupGivesNil() {
        #expect(ProcStatus.threadGroup(in: Array("Name:\tx\nPid:\t12\n".utf8)) == nil)
        #expect(ProcStatus.threadGroup(in: Array("Name:\tx\nTgid:\t\n".utf8)) == nil)
        #expect(ProcStatus.threadGroup(in: Array("Name:\tTgid: 5\nTgid:\t77\nPid:\t78\n".utf8)) == 77)  // a name cannot fake it
        #expect(ProcStatus.threadGroup(in: Array("Name:\tx\nTgid:\t99999999999\n".utf8)) == nil)
    }
}
