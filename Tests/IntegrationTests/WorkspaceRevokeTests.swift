import Credentials
import Daemon
import Foundation
import Workspaces
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Revoke means revoked (issue 15): the daemon's renewal never brings back a workspace grant an
/// operator revoked; the workspace says `revoked`, its mount gets EACCES, and `workspace rotate` is
/// the way back.
@Suite struct WorkspaceRevokeTests {
    static let artifacts = DaemonHarness.locateBinary("artifacts")

    func artifacts(_ h: DaemonHarness, _ args: [String]) throws -> DaemonHarness.Result {
        var e = ProcessInfo.processInfo.environment
        e["GARAGETYTUS_HOME"] = h.home
        return try DaemonHarness.runProcess(Self.artifacts, args, env: e, timeout: 90)
    }

    @Test func aRevokedWorkspaceGrantStaysRevokedUntilRotate() throws {
        let h = try DaemonHarness(name: "wsrev")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        #expect(try artifacts(h, ["workspace", "create", "cases", "--ttl", "24h", "--quota", "1G"]).status == 0)
        let mnt = h.home + "/work"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        defer { _ = try? artifacts(h, ["unmount", mnt]) }
        let m = try artifacts(h, ["mount", "cases", mnt])
        #expect(m.status == 0, "\(m.stderr)")
        #expect(FileManager.default.createFile(atPath: mnt + "/before.txt", contents: Data("ok\n".utf8)))

        let store = WorkspaceStore(configDir: h.paths.configDir)
        let grant = try #require(try store.loadCredentials("cases")?.grantID)
        #expect(try h.run(["bucket", "revoke", grant]).status == 0)
        // The renewal pass runs every 10 s; it logs once that it leaves this grant alone.
        let said = "not renewing the grant of workspace cases: grant \(grant) was revoked"
        #expect(eventually(timeout: 40, every: 0.5) { h.logText().contains(said) }, "\(h.logText().suffix(800))")
        #expect(try store.loadCredentials("cases")?.grantID == grant, "the cache still holds the revoked grant, no fresh one")
        let active = try JSONDecoder().decode([GrantInfo].self, from: Data(try h.run(["bucket", "grants", "cases", "--json"]).stdout.utf8))
            .filter { $0.state == "active" }
        #expect(active.isEmpty, "no grant was minted behind the operator's back: \(active.map(\.grantID))")
        let show = try artifacts(h, ["--format", "json", "workspace", "show", "cases"])
        let view = try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any]
        #expect(view?["status"] as? String == "revoked", "\(show.stdout) \(show.stderr)")
        // The mount is refused: a new file cannot be stored.
        let fd = open(mnt + "/after.txt", O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        var refused = fd < 0 ? errno : 0
        if fd >= 0 {
            _ = write(fd, "x", 1)
            if close(fd) != 0 { refused = errno }
        }
        #expect(refused == EACCES, "errno \(refused)")

        // rotate is the way back.
        let r = try artifacts(h, ["workspace", "rotate", "cases"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try eventually(timeout: 15, every: 0.2) {
            FileManager.default.createFile(atPath: mnt + "/again.txt", contents: Data("back\n".utf8))
        })
        #expect(try h.engineClient().get(bucket: "cases", key: "again.txt") == Data("back\n".utf8))
    }
}
