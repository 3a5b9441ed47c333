import ArgumentParser
import Daemon
import Foundation
import Workspaces
#if canImport(Glibc)
import Glibc
#endif

/// `garagetytus mount-helper …`: workspaces mounted by mount(8) and /etc/fstab.
struct MountHelperCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount-helper",
        abstract: "Let mount(8) and /etc/fstab mount workspaces (type fuse.artifacts).",
        discussion: """
        `install` writes /sbin/mount.fuse.artifacts, which mount(8) runs for the type fuse.artifacts. Options: ro, allow_other, uid=, gid=, cache_size=, metadata_ttl=, file_mode=, dir_mode=, io_timeout=, no_data_cache, no_change_feed, xattr, and home=DIR (the GARAGETYTUS_HOME to use; else the user's home); mount(8)'s own (_netdev, nofail, noauto, x-systemd.*) are left to it. `umount DIR` unmounts.

        Examples:
          sudo garagetytus mount-helper install
          sudo mount -t fuse.artifacts cases /mnt/work -o allow_other
          echo 'cases /mnt/work fuse.artifacts _netdev,allow_other,nofail 0 0' | sudo tee -a /etc/fstab
          sudo umount /mnt/work
        """,
        subcommands: [Install.self, Uninstall.self, MountNow.self])

    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write /sbin/mount.fuse.artifacts (idempotent; as root).",
            discussion: """
            Examples:
              sudo garagetytus mount-helper install
              garagetytus mount-helper install --dry-run
            """)

        @Flag(help: "Print the helper and where it would go; change nothing.") var dryRun = false
        @OptionGroup var output: JSONOption

        func run() async throws {
            try await CLIRunner.run {
                let exe = Paths.ownExecutable
                if dryRun {
                    if output.json { return CLIRunner.printJSON(["action": "dry_run", "path": MountHelper.defaultPath, "script": MountHelper.script(executable: exe)]) }
                    print("# \(MountHelper.defaultPath)")
                    return print(MountHelper.script(executable: exe), terminator: "")
                }
                let written: Bool
                do {
                    written = try MountHelper.install(executable: exe)
                } catch let e as CocoaError where e.code == .fileWriteNoPermission {
                    throw DaemonError(.environment, "cannot write \(MountHelper.defaultPath): permission denied", fix: "run it as root (sudo)")
                }
                if output.json { return CLIRunner.printJSON(["action": written ? "installed" : "unchanged", "path": MountHelper.defaultPath]) }
                print(written ? "installed \(MountHelper.defaultPath): mount -t fuse.artifacts WORKSPACE DIR now mounts a workspace"
                              : "\(MountHelper.defaultPath) is already installed")
            }
        }
    }

    struct Uninstall: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove /sbin/mount.fuse.artifacts (idempotent; as root).",
            discussion: """
            Examples:
              sudo garagetytus mount-helper uninstall
            """)

        @OptionGroup var output: JSONOption

        func run() async throws {
            try await CLIRunner.run {
                let removed = try MountHelper.uninstall()
                if output.json { return CLIRunner.printJSON(["action": removed ? "uninstalled" : "not_installed", "path": MountHelper.defaultPath]) }
                print(removed ? "removed \(MountHelper.defaultPath)" : "\(MountHelper.defaultPath) is not installed; nothing to do")
            }
        }
    }

    /// What the helper runs: mount(8)'s arguments turned into `garagetytus mount`'s, which replaces
    /// this process (so its exit status and messages are mount(8)'s to show).
    struct MountNow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "mount",
            abstract: "What /sbin/mount.fuse.artifacts runs: WORKSPACE DIR [-o OPTIONS], as mount(8) gives them.",
            discussion: """
            Examples:
              garagetytus mount-helper mount cases /mnt/work -o ro,uid=1000
            """)

        @Argument(help: "The workspace.") var workspace: String
        @Argument(help: "The directory to mount it on.") var directory: String
        @Option(name: .customShort("o"), help: "Mount options, comma-separated (see `garagetytus mount-helper --help`).") var options: [String] = []
        @Flag(name: .customShort("n"), help: "mount(8)'s: no mtab (there is none to write).") var noMtab = false
        @Flag(name: .customShort("s"), help: "mount(8)'s: sloppy options (unknown ones are still refused).") var sloppy = false
        @Flag(name: .customShort("f"), help: "mount(8)'s: fake; check the options and mount nothing.") var fake = false
        @Flag(name: .customShort("v"), help: "mount(8)'s: verbose.") var verbose = false

        func run() async throws {
            try await CLIRunner.run {
                let call = try MountHelper.invocation(workspace: workspace, directory: directory, options: options)
                if fake { return }
                var env = ProcessInfo.processInfo.environment
                if let home = call.home { env["GARAGETYTUS_HOME"] = home }
                // mount(8) at boot passes no HOME: the user's own, from the password database.
                if env["GARAGETYTUS_HOME"] == nil, env["HOME"]?.isEmpty ?? true, let pw = getpwuid(getuid()), let dir = pw.pointee.pw_dir {
                    env["HOME"] = String(cString: dir)
                }
                if env["PATH"]?.isEmpty ?? true { env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" }
                let exe = Paths.ownExecutable
                let argv = ["garagetytus", "mount"] + call.arguments
                let envp = env.map { "\($0.key)=\($0.value)" }
                // SAFETY: strdup'd C strings live until execve, which replaces the process or fails (then they leak once, harmlessly).
                let cArgv = argv.map { strdup($0) } + [nil]
                let cEnv = envp.map { strdup($0) } + [nil]
                execve(exe, cArgv, cEnv)
                throw DaemonError(.environment, "cannot run \(exe): \(String(cString: strerror(errno)))")
            }
        }
    }
}
