import Credentials
import Foundation
import Testing

@Suite struct FileTests {
    @Test func atomicWriteReplacesContentAndSetsMode() throws {
        let dir = NSTemporaryDirectory() + "af-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/f"
        try AtomicFile.write("one", to: path, mode: 0o600)
        try AtomicFile.write("two", to: path, mode: 0o600)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "two")
        let attrs = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attrs[.posixPermissions] as? Int) == 0o600)
        // No temp files left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["f"])
    }

    @Test func secretFilesWithLoosePermissionsAreRefusedWithTheFix() throws {
        let path = NSTemporaryDirectory() + "sf-\(UUID().uuidString)"
        defer { unlink(path) }
        try SecretFile.write(Data("s".utf8), to: path)
        #expect(try SecretFile.read(path) == Data("s".utf8))
        chmod(path, 0o644)
        do {
            _ = try SecretFile.read(path)
            Issue.record("a 0644 secret file was accepted")
        } catch let e as SecretFileError {
            #expect(e.description.contains("chmod 600"))
        }
        #expect(SecretFile.permissionProblem(mode: S_IFREG | 0o600, owner: 1, me: 2)?.contains("owned by uid 1") == true)
    }
}
