import Daemon
import Foundation
import Testing
import Workspaces

/// mount(8)'s arguments for `fuse.artifacts` turned into `mount`'s: what maps to a flag, what is
/// mount(8)'s own and left alone, and what is refused.
@Suite struct MountHelperUnitTests {
    @Test func optionsMapToMountFlagsAndMountsOwnAreLeftAlone() throws {
        let call = try MountHelper.invocation(workspace: "cases", directory: "/mnt/work",
                                              options: ["ro,allow_other,uid=1000,gid=100,cache_size=2G,_netdev,nofail,noauto,x-systemd.automount,home=/srv/gt,defaults"])
        #expect(call == MountHelper.Invocation(arguments: ["cases", "/mnt/work", "--read-only", "--allow-other", "--uid", "1000", "--gid", "100", "--cache-size", "2G"],
                                               home: "/srv/gt"))
        // Several -o, as mount(8) may give them.
        let more = try MountHelper.invocation(workspace: "cases", directory: "/mnt/w", options: ["xattr", "metadata_ttl=5"])
        #expect(more.arguments == ["cases", "/mnt/w", "--xattr", "--metadata-ttl", "5"] && more.home == nil)
    }

    @Test(arguments: [
        ("bogus", "unknown mount option bogus"),
        ("uid=", "mount option uid needs a value"),
        ("ro=1", "unknown mount option ro=1"),
        ("home", "unknown mount option home"),
    ])
    func badOptionsAreRefusedInOneLine(option: String, message: String) {
        #expect { try MountHelper.invocation(workspace: "cases", directory: "/mnt", options: [option]) } throws: { e in
            "\(e)".contains(message) && !"\(e)".contains("\n")
        }
    }

    @Test func theHelperIsOursToReplaceAndRemoveOnly() throws {
        let dir = NSTemporaryDirectory() + "gt-mh-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/mount.fuse.artifacts"
        #expect(try MountHelper.install(executable: "/opt/it's here/garagetytus", at: path))
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("exec '/opt/it'\\''s here/garagetytus' mount-helper mount \"$@\""))
        #expect(try !MountHelper.install(executable: "/opt/it's here/garagetytus", at: path))
        #expect(try MountHelper.install(executable: "/usr/bin/garagetytus", at: path))
        #expect(try MountHelper.uninstall(at: path))
        #expect(try !MountHelper.uninstall(at: path))
        try "#!/bin/sh\necho someone else's\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: DaemonError.self) { try MountHelper.install(executable: "/usr/bin/garagetytus", at: path) }
        #expect(throws: DaemonError.self) { try MountHelper.uninstall(at: path) }
        #expect(FileManager.default.fileExists(atPath: path))
    }
}
