import Credentials
import Daemon
import Foundation

/// `mount -t fuse.artifacts WORKSPACE DIR -o OPTIONS` and fstab lines of that type: mount(8) runs
/// `/sbin/mount.fuse.artifacts WORKSPACE DIR -o OPTIONS`, a script `garagetytus mount-helper
/// install` writes, which runs `garagetytus mount-helper mount …`; this turns that into the
/// arguments of `artifacts mount`.
public enum MountHelper {
    /// Where mount(8) looks for the helper of type `fuse.artifacts`.
    public static let defaultPath = "/sbin/mount.fuse.artifacts"
    static let marker = "# Written by `garagetytus mount-helper install`"

    /// The helper script that runs `executable`.
    public static func script(executable: String) -> String {
        """
        #!/bin/sh
        \(marker); removed by `garagetytus mount-helper uninstall`.
        # mount(8) runs it for `mount -t fuse.artifacts WORKSPACE DIR -o OPTIONS` and fstab lines of that type.
        exec \(shellQuoted(executable)) mount-helper mount "$@"

        """
    }

    static func shellQuoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// What `mount` gets from mount(8)'s arguments: the `artifacts mount` arguments, and the home
    /// (`home=DIR`, for `GARAGETYTUS_HOME`) when one was given.
    public struct Invocation: Equatable, Sendable {
        public var arguments: [String]
        public var home: String?

        public init(arguments: [String], home: String?) {
            self.arguments = arguments
            self.home = home
        }
    }

    /// mount(8)'s options that are its own business (or the kernel's defaults for FUSE): accepted
    /// and left alone.
    static let mountOptions: Set<String> = ["defaults", "rw", "auto", "noauto", "user", "nouser", "users", "owner", "group",
                                            "_netdev", "nofail", "dev", "nodev", "suid", "nosuid", "exec", "noexec",
                                            "async", "atime", "noatime", "relatime", "strictatime", "nodiratime", "diratime", "sync"]
    /// Options that are `artifacts mount` flags without a value.
    static let flags = ["ro": "--read-only", "allow_other": "--allow-other", "no_data_cache": "--no-data-cache",
                        "no_change_feed": "--no-change-feed", "xattr": "--xattr"]
    /// Options with a value, and their flag.
    static let valued = ["uid": "--uid", "gid": "--gid", "cache_size": "--cache-size", "metadata_ttl": "--metadata-ttl",
                         "file_mode": "--file-mode", "dir_mode": "--dir-mode", "io_timeout": "--io-timeout"]

    /// `mount WORKSPACE DIR` with `options` (the values of mount(8)'s `-o`, each comma-separated;
    /// its other switches are the command line's to take); refuses an option it does not know,
    /// naming it.
    public static func invocation(workspace: String, directory: String, options lists: [String]) throws -> Invocation {
        let options = lists.flatMap { $0.split(separator: ",").map(String.init) }
        var out = Invocation(arguments: [workspace, directory], home: nil)
        for o in options where !o.isEmpty {
            let (name, value) = o.firstIndex(of: "=").map { (String(o[..<$0]), String(o[o.index(after: $0)...])) } ?? (o, nil)
            if value == nil && mountOptions.contains(name) { continue }
            if name.hasPrefix("x-") || name == "comment" { continue }  // x-systemd.*, comment=: for other readers of fstab
            if value == nil, let flag = flags[name] { out.arguments.append(flag); continue }
            if let flag = valued[name] {
                guard let value, !value.isEmpty else { throw DaemonError(.usage, "mount option \(name) needs a value", fix: "e.g. \(name)=…") }
                out.arguments += [flag, value]
                continue
            }
            if name == "home", let value, !value.isEmpty { out.home = value; continue }
            throw DaemonError(.usage, "unknown mount option \(o.prefix(60))",
                              fix: "known: ro, allow_other, uid=, gid=, cache_size=, metadata_ttl=, file_mode=, dir_mode=, io_timeout=, no_data_cache, no_change_feed, xattr, home=; and mount(8)'s own (_netdev, nofail, noauto, …)")
        }
        return out
    }

    /// Writes the helper at `path` (atomically, 0755); false when the same helper is there already.
    /// Refuses to replace a file it did not write.
    public static func install(executable: String, at path: String = defaultPath) throws -> Bool {
        let text = script(executable: executable)
        if let old = try? String(contentsOfFile: path, encoding: .utf8) {
            if old == text { return false }
            guard old.contains(marker) else {
                throw DaemonError(.environment, "\(path) exists and was not written by garagetytus", fix: "move it away first")
            }
        }
        try AtomicFile.write(text, to: path, mode: 0o755)
        return true
    }

    /// Removes the helper; false when there was none. Refuses a file it did not write.
    public static func uninstall(at path: String = defaultPath) throws -> Bool {
        guard let old = try? String(contentsOfFile: path, encoding: .utf8) else { return false }
        guard old.contains(marker) else {
            throw DaemonError(.environment, "\(path) was not written by garagetytus; left alone", fix: "remove it yourself if you mean to")
        }
        try FileManager.default.removeItem(atPath: path)
        return true
    }
}
