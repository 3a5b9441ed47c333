@testable import CLI
import Credentials
import Foundation
import Workspaces
import Testing

/// Workspace names, service tokens, the cache's file rules, and `--format` before the subcommand.
@Suite struct WorkspaceUnitTests {
    @Test func namesFollowTheGrammar() {
        for ok in ["cases", "a1", "ws-2", String(repeating: "a", count: 63)] { #expect((try? WorkspaceStore.checkName(ok)) != nil, "\(ok)") }
        for bad in ["a", "-ab", "Cases", "a_b", "a b", "", String(repeating: "a", count: 64), "ab/../c"] {
            #expect(throws: WorkspaceError.self, "\(bad)") { try WorkspaceStore.checkName(bad) }
        }
    }

    @Test func serviceTokensRoundTripAndRefuseGarbageAndExpiry() throws {
        let t = ServiceToken(workspace: "cases", endpoint: "http://127.0.0.1:3900", bucket: "cases", region: "us-east-1", keyPrefix: "p/",
                             accessKeyID: "GKabc", secretAccessKey: "s3cr3t+/=", mode: "ro", expiresAt: "2099-01-01T00:00:00Z", grantID: "g_20261123_00000001")
        let text = t.encoded()
        #expect(text.hasPrefix("gtk1.") && !text.contains("+") && !text.contains("/") && !text.contains("="))
        #expect(try ServiceToken.decode(text + "\n") == t)
        #expect(t.record.readOnly == true && t.credentials.source == "token g_20261123_00000001")
        #expect(!t.expired())
        var old = t
        old.expiresAt = "2020-01-01T00:00:00Z"
        #expect(old.expired())
        for bad in ["", "gtk1.", "gtk1.!!!", "AKIA123", "gtk1." + Data("{}".utf8).base64EncodedString()] {
            #expect(throws: WorkspaceError.self, "\(bad)") { try ServiceToken.decode(bad) }
        }
    }

    @Test func theCacheIsPrivateAndRefusesLooseFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gt-ws-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = WorkspaceStore(configDir: dir)
        try store.save(WorkspaceRecord(name: "cases", kind: .byo, endpoint: "http://e", bucket: "b", region: "us-east-1", prefix: "", createdAt: "now"))
        try store.saveCredentials("cases", CachedCredentials(accessKeyID: "AK", secretAccessKey: "SK", source: "test"))
        var st = stat()
        #expect(stat(store.directory, &st) == 0 && st.st_mode & 0o777 == 0o700)
        #expect(stat(store.credentialsPath("cases"), &st) == 0 && st.st_mode & 0o777 == 0o600)
        #expect(try store.loadCredentials("cases")?.secretAccessKey == "SK")
        chmod(store.credentialsPath("cases"), 0o640)
        #expect(throws: WorkspaceError.self) { try store.loadCredentials("cases") }
        try "{not json".write(toFile: store.recordPath("cases"), atomically: true, encoding: .utf8)
        chmod(store.recordPath("cases"), 0o600)
        #expect(throws: WorkspaceError.self) { try store.load("cases") }
        #expect(try String(contentsOfFile: store.recordPath("cases"), encoding: .utf8) == "{not json")  // left as it is
    }

    @Test func formatMayComeBeforeTheSubcommand() {
        #expect(GlobalOptions.hoistFormat(["--format", "json", "workspace", "list"]) == ["workspace", "list", "--format", "json"])
        #expect(GlobalOptions.hoistFormat(["--format=json", "workspace", "list"]) == ["workspace", "list", "--format=json"])
        #expect(GlobalOptions.hoistFormat(["workspace", "list", "--format", "json"]) == ["workspace", "list", "--format", "json"])
    }
}
