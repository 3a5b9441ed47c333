import Daemon
import Foundation
import Mount
import S3
import Testing
import TestSupport

/// Everyday tools inside a real mount on the real engine: git clone, tar, rsync, find, du, ls.
@Suite(.serialized) struct ToolsInMountTests {
    func sh(_ script: String, in dir: String) throws -> DaemonHarness.Result {
        var env = ProcessInfo.processInfo.environment
        env["GIT_AUTHOR_NAME"] = "t"; env["GIT_AUTHOR_EMAIL"] = "t@example.invalid"
        env["GIT_COMMITTER_NAME"] = "t"; env["GIT_COMMITTER_EMAIL"] = "t@example.invalid"
        env["HOME"] = dir
        return try DaemonHarness.runProcess("/bin/sh", ["-c", "cd \(dir) && " + script], env: env, timeout: 120)
    }

    @Test func gitCloneTarRsyncFindDuAndLsWork() throws {
        let (h, client) = try DaemonHarness.started(name: "tools", bucket: "tools")
        defer { _ = try? h.run(["stop"]) }
        let work = h.home + "/work"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let mount = try InProcessMount(client: client, bucket: "tools")
        let mnt = mount.mountpoint
        defer { mount.unmount() }

        // A source tree with nesting, an executable, a symlink and a 3 MiB file.
        var r = try sh("""
            mkdir -p src/a/b src/c && printf 'one\\n' > src/a/one.txt && printf 'two\\n' > src/a/b/two.txt &&
            printf '#!/bin/sh\\necho hi\\n' > src/c/run.sh && chmod 755 src/c/run.sh && ln -s ../a/one.txt src/c/link &&
            head -c 3145728 /dev/urandom > src/big.bin &&
            git init -q repo && cp -r src/. repo/ && cd repo && git add -A && git commit -qm init
            """, in: work)
        #expect(r.status == 0, "\(r.stderr)")

        // git clone into the mount: a working tree git itself finds clean.
        r = try sh("git clone -q \(work)/repo clone && cd clone && git status --porcelain && git log --oneline | wc -l", in: mnt)
        #expect(r.status == 0 && r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "\(r.stdout) \(r.stderr)")
        r = try sh("diff -r --exclude=.git \(work)/repo \(mnt)/clone && test -x \(mnt)/clone/c/run.sh", in: work)
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")

        // tar out of the mount and back in, rsync in (a second rsync finds nothing to do), find and du.
        r = try sh("tar -cf \(work)/t.tar -C \(mnt) clone && mkdir \(mnt)/untar && tar -xf \(work)/t.tar -C \(mnt)/untar && diff -r \(mnt)/clone \(mnt)/untar/clone", in: work)
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        r = try sh("rsync -a src/ \(mnt)/synced/ && rsync -ai --checksum src/ \(mnt)/synced/", in: work)
        #expect(r.status == 0 && r.stdout.isEmpty, "rsync found changes after a copy: \(r.stdout) \(r.stderr)")
        r = try DaemonHarness.runProcess("/bin/bash", ["-c", "diff <(cd \(work)/src && find . | sort) <(cd \(mnt)/synced && find . | sort)"], env: [:], timeout: 60)
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        r = try sh("du -sk synced && ls -la synced/c", in: mnt)
        #expect(r.status == 0 && r.stdout.contains("link -> ../a/one.txt"), "\(r.stdout) \(r.stderr)")
        let kib = Int(r.stdout.split(separator: "\t").first ?? "") ?? 0
        #expect(kib >= 3072, "du reported \(kib) KiB for a tree with a 3 MiB file")

        // Everything is in the bucket as plain objects.
        #expect(try client.head(bucket: "tools", key: "synced/big.bin").size == 3_145_728)
        #expect(try client.get(bucket: "tools", key: "clone/a/b/two.txt") == Data("two\n".utf8))
    }
}
