import Daemon
import Foundation
import Testing
import Workspaces

/// mount(8)'s arguments for `fuse.artifacts` turned into `mount`'s: what maps to a flag, what is
/// mount(8)'s own and left alone, and what is refused.
@Suite struct MountHelperUnitTests {
    @Test func optionsMapToMountFlagsAndMountsOwnAreLeftAlone() throws {
        let call = try MountHelper.invocation(["cases", "/mnt/work", "-o", "ro,allow_other,uid=1000,gid=100,cache_size=2G,_netdev,nofail,noauto,x-systemd.automount,home=/srv/gt,defaults"])
        #expect(call == MountHelper.Invocation(arguments: ["cases", "/mnt/work", "--read-only", "--allow-other", "--uid", "1000", "--gid", "100", "--cache-size", "2G"],
                                               home: "/srv/gt"))
        // mount(8)'s own switches (no mtab, sloppy, verbose) and -oOPTS glued.
        let more = try MountHelper.invocation(["-n", "cases", "-s", "/mnt/w", "-v", "-oxattr,metadata_ttl=5"])
        #expect(more.arguments == ["cases", "/mnt/w", "--xattr", "--metadata-ttl", "5"] && more.home == nil)
    }

    @Test(arguments: [
        (["cases", "/mnt", "-o", "bogus"], "unknown mount option bogus"),
        (["cases", "/mnt", "-o", "uid="], "mount option uid needs a value"),
        (["cases", "/mnt", "-o", "ro=1"], "unknown mount option ro=1"),
        (["cases"], "needs a workspace and a directory"),
        (["cases", "/mnt", "-o"], "-o needs a list of options"),
        (["cases", "/mnt", "--weird"], "unknown argument --weird"),
    ])
    func badArgumentsAreRefusedInOneLine(args: [String], message: String) {
        #expect { try MountHelper.invocation(args) } throws: { e in
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
