import Daemon
import Foundation
import Mount
import S3
import Testing
import TestSupport
import Workspaces
#if canImport(Glibc)
import Glibc
#endif

/// `mount -t fuse.artifacts` and fstab lines, through the real mount(8) and umount(8): the helper
/// `garagetytus mount-helper install` puts in /sbin (for this test only; whatever was there is
/// put back), a workspace mounted with options, written through, unmounted by umount.
@Suite(.serialized, .timeLimit(.minutes(3))) struct MountHelperTests {
    static let bareEnv = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]  // mount(8) at boot passes little more

    func mounted(_ dir: String) -> Bool { MountTable.entries(at: dir).contains { $0.fsType == "fuse.garagetytus" } }

    @Test func mountDashTAndAnFstabLineMountAWorkspaceAndUmountUnmountsIt() throws {
        let helper = MountHelper.defaultPath
        let previous = try? Data(contentsOf: URL(fileURLWithPath: helper))
        if let previous, !String(decoding: previous, as: UTF8.self).contains("garagetytus mount-helper install") {
            Issue.record("\(helper) exists and is not ours: not replaced, nothing checked")
            return
        }
        defer {
            if let previous { try? previous.write(to: URL(fileURLWithPath: helper)); chmod(helper, 0o755) } else { unlink(helper) }
        }
        let h = try DaemonHarness(name: "mhelp")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        let created = try h.run(["workspace", "create", "cases"])
        #expect(created.status == 0, "\(created.stderr)")

        let inst = try h.run(["mount-helper", "install"])
        #expect(inst.status == 0 && FileManager.default.isExecutableFile(atPath: helper), "\(inst.stderr)")
        #expect(try h.run(["mount-helper", "install"]).stdout.contains("already installed"))

        let mnt = h.home + "/work"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        defer { if mounted(mnt) { _ = try? DaemonHarness.runProcess("/bin/umount", [mnt], env: Self.bareEnv, timeout: 30) } }
        let admin = try h.engineClient()
        try admin.put(bucket: "cases", key: "plain.txt", body: Data("no metadata\n".utf8))

        // mount -t, with options: mount(8)'s own are left to it, uid= is the owner of plain objects.
        let m = try DaemonHarness.runProcess("/bin/mount", ["-t", "fuse.artifacts", "cases", mnt, "-o", "home=\(h.home),_netdev,nofail,uid=4321,x-systemd.automount"],
                                             env: Self.bareEnv, timeout: 60)
        #expect(m.status == 0, "\(m.stdout) \(m.stderr)")
        #expect(mounted(mnt))
        var st = stat()
        #expect(stat(mnt + "/plain.txt", &st) == 0 && st.st_uid == 4321)
        try Data("through mount -t\n".utf8).write(to: URL(fileURLWithPath: mnt + "/written.txt"))
        let u = try DaemonHarness.runProcess("/bin/umount", [mnt], env: Self.bareEnv, timeout: 30)
        #expect(u.status == 0, "\(u.stderr)")
        #expect(eventually(timeout: 10) { !mounted(mnt) })
        #expect(try admin.get(bucket: "cases", key: "written.txt") == Data("through mount -t\n".utf8))
        // The mount's process ended and took its record with it.
        let records = { ((try? FileManager.default.contentsOfDirectory(atPath: h.paths.dataDir + "/mounts")) ?? []).filter { $0.hasSuffix(".json") } }
        #expect(eventually(timeout: 10) { records().isEmpty }, "\(records())")

        // An fstab line (mount(8) reads it with --fstab), read-only.
        let fstab = h.home + "/fstab"
        try "# a test's own fstab\ncases \(mnt) fuse.artifacts ro,home=\(h.home),_netdev,nofail 0 0\n".write(toFile: fstab, atomically: true, encoding: .utf8)
        let f = try DaemonHarness.runProcess("/bin/mount", ["--fstab", fstab, mnt], env: Self.bareEnv, timeout: 60)
        #expect(f.status == 0, "\(f.stderr)")
        #expect(try String(contentsOfFile: mnt + "/written.txt", encoding: .utf8) == "through mount -t\n")
        #expect(open(mnt + "/new.txt", O_CREAT | O_WRONLY, 0o644) == -1 && errno == EROFS)
        #expect(try DaemonHarness.runProcess("/bin/umount", [mnt], env: Self.bareEnv, timeout: 30).status == 0)
        #expect(eventually(timeout: 10) { !mounted(mnt) })

        // A bad option: refused in one line, nothing mounted.
        let bad = try DaemonHarness.runProcess("/bin/mount", ["-t", "fuse.artifacts", "cases", mnt, "-o", "home=\(h.home),bogus=1"], env: Self.bareEnv, timeout: 60)
        #expect(bad.status != 0 && (bad.stdout + bad.stderr).contains("unknown mount option bogus=1"), "\(bad.stdout) \(bad.stderr)")
        #expect(!mounted(mnt))

        // mount(8)'s switches are taken, malformed command lines refused in one line.
        let fake = try h.run(["mount-helper", "mount", "-n", "cases", "-s", mnt, "-v", "-f", "-o", "home=\(h.home),ro"])
        #expect(fake.status == 0 && !mounted(mnt), "\(fake.stderr)")
        for bad in [["cases"], ["cases", mnt, "-o"], ["cases", mnt, "--weird"]] {
            let r = try h.run(["mount-helper", "mount"] + bad)
            #expect(r.status != 0 && !r.stderr.isEmpty && !mounted(mnt), "\(bad): \(r.stderr)")
        }
        #expect(try h.run(["mount-helper", "uninstall"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: helper))
        #expect(try h.run(["mount-helper", "uninstall"]).stdout.contains("not installed"))
    }
}
