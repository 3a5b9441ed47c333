import Daemon
import Foundation
import Synchronization
import Testing
import TestSupport

/// Long work shows progress on a terminal, in place, and stays quiet in scripts (issue 17).
@Suite struct ProgressTests {
    /// Runs the CLI on a pseudo-terminal (`script`): what the terminal showed, stdout and stderr together.
    func onTerminal(_ h: DaemonHarness, _ args: [String]) throws -> DaemonHarness.Result {
        var env = ProcessInfo.processInfo.environment
        env["GARAGETYTUS_HOME"] = h.home
        env["COLUMNS"] = "120"
        let command = ([h.binary] + args).map { "'\($0)'" }.joined(separator: " ")
        return try DaemonHarness.runProcess("/usr/bin/script", ["-qfec", command, "/dev/null"], env: env, timeout: 300)
    }

    @Test func expireAndRepairShowProgressOnATerminalAndNothingInScripts() throws {
        let h = try DaemonHarness(name: "prog")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        for name in ["many", "quiet"] { try h.createBucket(name) }
        let client = try h.engineClient()
        // More objects than one delete batch (1000), so the count moves during the delete.
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { w in
            for i in stride(from: w, to: 1500, by: 8) where (try? client.put(bucket: "many", key: "o/\(i)", body: Data("\(i)".utf8))) == nil {
                failures.add(1, ordering: .relaxed)
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
        _ = try client.put(bucket: "quiet", key: "one", body: Data("1".utf8))

        let shown = try onTerminal(h, ["bucket", "expire", "many"])
        #expect(shown.status == 0, "\(shown.stdout)")
        // Rewritten in place (carriage return, erase line), with the running count of the total,
        // then cleared before the result.
        #expect(shown.stdout.contains("\r\u{1b}[Kexpire many: deleted 1000 of 1500 objects"), "\(shown.stdout.debugDescription)")
        #expect(shown.stdout.contains("\r\u{1b}[Kexpired many: 1500 objects deleted"), "\(shown.stdout.debugDescription)")

        // In a script: the result alone, nothing on stderr.
        let scripted = try h.run(["bucket", "expire", "quiet"])
        #expect(scripted.status == 0 && scripted.stderr.isEmpty && scripted.stdout.hasPrefix("expired quiet: 1 objects deleted"),
                "\(scripted.stdout.debugDescription) \(scripted.stderr.debugDescription)")

        let repair = try onTerminal(h, ["repair"])
        #expect(repair.status == 0 && repair.stdout.contains("\r\u{1b}[Krepair: checking the state database"), "\(repair.stdout.debugDescription)")
        let repairJSON = try h.run(["repair", "--json"])
        #expect(repairJSON.status == 0 && repairJSON.stderr.isEmpty && repairJSON.stdout.contains("\"steps\""), "\(repairJSON.stderr)")
    }
}
