import ArgumentParser
import Credentials
import Daemon
import Foundation
import Mount
import S3
import Workspaces
#if canImport(Glibc)
import Glibc
#endif

struct MountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount",
        abstract: "Mount a bucket (or a prefix of it) as a directory; returns when the directory is ready.",
        discussion: """
        With a workspace (`mount WORKSPACE DIR`) the endpoint, bucket and credentials come from the workspace and its cache (or ARTIFACTS_S3_* on a fresh host), and a live mount follows the cache when the credentials are rotated. Otherwise give --endpoint and --bucket; credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or from --credentials-file (JSON {"access_key_id": …, "secret_access_key": …}, mode 0600). Without --foreground the mount runs in the background and this command returns 0 only once the directory answers, so a container entrypoint can mount and then exec its workload.

        Examples:
          artifacts mount cases /mnt/work
          garagetytus mount --endpoint http://127.0.0.1:3900 --bucket work /mnt/work
          garagetytus mount --endpoint http://127.0.0.1:3900 --bucket work --prefix team/a --read-only /mnt/a
        """)

    @Option(help: "S3 endpoint URL (without a workspace).") var endpoint: String?
    @Option(help: "Bucket to mount (without a workspace).") var bucket: String?
    @Option(help: "Only this key prefix of the bucket.") var prefix: String?
    @Option(help: "Region for signing.") var region: String?
    @Option(help: "0600 JSON file with access_key_id and secret_access_key.") var credentialsFile: String?
    @Option(help: "Seconds attributes and listings are cached.") var metadataTTL: Double = 1
    @Option(help: "Directory for staging files (default: under the data directory).") var cacheDir: String?
    @Option(help: ArgumentHelp("Disk space for file contents kept across reads and mounts (e.g. 10G).",
                               discussion: "Default: a quarter of the free space under the data directory; the cache never fills the disk past 80 %."))
    var cacheSize: String?
    @Flag(help: "Keep no file contents on disk: every read asks the store.") var noDataCache = false
    @Flag(help: ArgumentHelp("Do not follow the daemon's change feed: trust attributes and listings for --metadata-ttl only.",
                             discussion: "By default a mount through the daemon follows the bucket's changes and sees another client's change within milliseconds."))
    var noChangeFeed = false
    @Flag(help: ArgumentHelp("Keep extended attributes (setfattr, getfattr) in object metadata, as s3fs -o use_xattr does.",
                             discussion: "Off by default: with them, `ls -l` asks the mount two attributes per file, which halves the speed of a cold `ls -l`."))
    var xattr = false
    @Option(help: ArgumentHelp("CA certificates (PEM) to trust for an https:// endpoint.",
                               discussion: "For a daemon whose gateway serves other hosts over HTTPS with its own certificate ([gateway] tls_cert)."))
    var caFile: String?
    @Flag(help: "Refuse every write with EROFS.") var readOnly = false
    @Flag(help: "Let other users access the mount (allow_other).") var allowOther = false
    @Flag(help: "Stay in the foreground until unmounted or signalled.") var foreground = false
    @Option(help: "Owner shown for objects without metadata (default: the mounting user).") var uid: UInt32?
    @Option(help: "Group shown for objects without metadata (default: the mounting user's).") var gid: UInt32?
    @Option(help: "Octal mode of files without metadata.") var fileMode: String = "0644"
    @Option(help: "Octal mode of directories without metadata.") var dirMode: String = "0755"
    @Option(help: "Seconds to wait for the mount to be ready.") var timeout: Double = 30
    @Option(help: ArgumentHelp("Seconds one request to the store may take before it is retried.",
                               discussion: "A few retries with backoff follow; then the file operation fails with EIO instead of hanging."))
    var ioTimeout: Double = 60
    @Argument(help: "[WORKSPACE] DIRECTORY: a workspace's name and the directory to mount on, or only the directory.")
    var targets: [String]

    static func octalMode(_ text: String, flag: String) throws -> UInt32 {
        guard let m = UInt32(text, radix: 8), m <= 0o7777, !text.isEmpty, text.count <= 5 else {
            throw DaemonError(.usage, "--\(flag) \(text.prefix(20)) is not an octal mode", fix: "e.g. --\(flag) 0640")
        }
        return m
    }

    func run() async throws {
        try await CLIRunner.run {
            try CLIRunner.requirePositive(timeout)
            var request = MountRequest(defaults: AttributeDefaults(uid: uid ?? getuid(), gid: gid ?? getgid()))
            request.defaults.fileMode = try Self.octalMode(fileMode, flag: "file-mode")
            request.defaults.directoryMode = try Self.octalMode(dirMode, flag: "dir-mode")
            (request.endpoint, request.bucket, request.prefix, request.region) = (endpoint, bucket, prefix, region)
            (request.credentialsFile, request.cacheDir, request.readOnly, request.allowOther) = (credentialsFile, cacheDir, readOnly, allowOther)
            (request.metadataTTL, request.ioTimeout) = (metadataTTL, ioTimeout)
            (request.cacheSize, request.noDataCache, request.noChangeFeed, request.xattr) = (cacheSize, noDataCache, noChangeFeed, xattr)
            request.caFile = caFile
            let spec = try request.spec(targets: targets, paths: try CLIRunner.resolvePaths())
            let log = MountLog.bootstrap()
            try spec.checkMountpoint(log: log)
            try spec.checkAccess()
            if foreground {
                // A fatal error is a log line with its level too (the parent reads the `error:` line below it).
                do { try MountProcess(spec: spec, log: log).run() } catch { log.critical("\(error)"); throw error }
            } else {
                let pid = try MountControl.startInBackground(spec, timeout: timeout)
                print("mounted \(spec.source) on \(spec.mountpoint) (pid \(pid))")
            }
        }
    }
}

struct UnmountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unmount",
        abstract: "Unmount a directory mounted by garagetytus; uploads pending data first.",
        discussion: """
        A mount whose process died (kill -9) leaves a stale mountpoint; unmount cleans it up.

        Examples:
          garagetytus unmount /mnt/work
        """)

    @Option(help: "Seconds to wait for the mount process to exit.") var timeout: Double = 30
    @Argument(help: "The mountpoint.") var mountpoint: String

    func run() async throws {
        try await CLIRunner.run {
            try CLIRunner.requirePositive(timeout)
            let abs = MountSpec.absolute(mountpoint)
            let outcome = try MountControl.unmount(abs, paths: try CLIRunner.resolvePaths(), timeout: timeout)
            print(outcome)
        }
    }
}
