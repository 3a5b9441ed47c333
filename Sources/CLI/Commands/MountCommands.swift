import ArgumentParser
import Credentials
import Daemon
import Foundation
import Mount
import S3
#if canImport(Glibc)
import Glibc
#endif

struct MountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount",
        abstract: "Mount a bucket (or a prefix of it) as a directory; returns when the directory is ready.",
        discussion: """
        With a workspace (`mount WORKSPACE DIR`) the endpoint, bucket and credentials come from the
        workspace and its cache (or ARTIFACTS_S3_* on a fresh host), and a live mount follows the
        cache when the credentials are rotated. Otherwise give --endpoint and --bucket; credentials
        come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or from --credentials-file
        (JSON {"access_key_id": …, "secret_access_key": …}, mode 0600). Without --foreground the mount
        runs in the background and this command returns 0 only once the directory answers, so a
        container entrypoint can mount and then exec its workload.

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

    static func url(_ text: String) throws -> URL {
        guard let url = URL(string: text), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw DaemonError(.usage, "--endpoint \(text.prefix(80)) is not an http(s) URL", fix: "e.g. --endpoint http://127.0.0.1:3900")
        }
        return url
    }

    /// `mount WORKSPACE DIR`: storage from the workspace (or ARTIFACTS_S3_*), credentials from its
    /// cache (followed by the live mount), else ARTIFACTS_S3_ACCESS_KEY_ID/SECRET_ACCESS_KEY.
    func workspaceSpec(_ name: String, mountpoint: String, defaults: AttributeDefaults, paths: Paths) throws -> MountSpec {
        if endpoint != nil || bucket != nil || credentialsFile != nil {
            throw DaemonError(.usage, "--endpoint, --bucket and --credentials-file are not for a workspace mount", fix: "artifacts mount \(name) \(mountpoint)")
        }
        let w = Workspaces(paths: paths)
        let record = try w.recordOrEnvironment(name)
        let cached = try w.store.loadCredentials(name)
        let env = try Workspaces.environmentToken().map { S3Credentials(accessKeyID: $0.accessKeyID, secretAccessKey: $0.secretAccessKey) }
            ?? Workspaces.environmentCredentials()
        if cached == nil && env == nil {
            throw DaemonError(.usage, "no credentials for workspace \(name)",
                              fix: "cache them with `artifacts storage set --workspace \(name) --access-key-id AK --secret-stdin` (or --token T), or set ARTIFACTS_S3_ACCESS_KEY_ID and ARTIFACTS_S3_SECRET_ACCESS_KEY (or ARTIFACTS_TOKEN)")
        }
        var spec = try MountSpec(endpoint: try Self.url(record.endpoint), bucket: record.bucket, prefix: prefix ?? record.prefix,
                                 region: region ?? record.region, mountpoint: mountpoint, readOnly: readOnly || record.readOnly == true, allowOther: allowOther,
                                 metadataTTL: metadataTTL, cacheDir: cacheDir, credentialsFile: cached != nil ? w.store.credentialsPath(name) : nil,
                                 defaults: defaults, paths: paths, credentials: cached == nil ? env : nil)
        spec.workspace = name
        spec.switchCredentialsOnRejection = record.kind == .byo
        return spec
    }

    static func octalMode(_ text: String, flag: String) throws -> UInt32 {
        guard let m = UInt32(text, radix: 8), m <= 0o7777, !text.isEmpty, text.count <= 5 else {
            throw DaemonError(.usage, "--\(flag) \(text.prefix(20)) is not an octal mode", fix: "e.g. --\(flag) 0640")
        }
        return m
    }

    func run() async throws {
        try await CLIRunner.run {
            try CLIRunner.requirePositive(timeout)
            guard ioTimeout >= 1, ioTimeout <= 3600 else { throw DaemonError(.usage, "--io-timeout must be between 1 and 3600 seconds") }
            guard metadataTTL >= 0 else { throw DaemonError(.usage, "--metadata-ttl must not be negative") }
            var defaults = AttributeDefaults(uid: uid ?? getuid(), gid: gid ?? getgid())
            defaults.fileMode = try Self.octalMode(fileMode, flag: "file-mode")
            defaults.directoryMode = try Self.octalMode(dirMode, flag: "dir-mode")
            let paths = try CLIRunner.resolvePaths()
            var spec: MountSpec
            switch targets.count {
            case 2:
                spec = try workspaceSpec(targets[0], mountpoint: targets[1], defaults: defaults, paths: paths)
            case 1:
                guard let endpoint, let bucket else {
                    throw DaemonError(.usage, "mount needs a workspace or --endpoint and --bucket",
                                      fix: "artifacts mount WORKSPACE DIR, or garagetytus mount --endpoint URL --bucket B DIR")
                }
                spec = try MountSpec(endpoint: try Self.url(endpoint), bucket: bucket, prefix: prefix ?? "", region: region ?? "us-east-1",
                                     mountpoint: targets[0], readOnly: readOnly, allowOther: allowOther, metadataTTL: metadataTTL,
                                     cacheDir: cacheDir, credentialsFile: credentialsFile, defaults: defaults, paths: paths)
            default:
                throw DaemonError(.usage, "mount takes [WORKSPACE] DIRECTORY", fix: "e.g. artifacts mount cases /mnt/work")
            }
            spec.ioTimeout = ioTimeout
            try spec.checkMountpoint()
            try spec.checkAccess()
            if foreground {
                try MountRunner(spec: spec).runForeground()
            } else {
                let pid = try MountRunner(spec: spec).startInBackground(timeout: timeout)
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
            let outcome = try MountRunner.unmount(abs, paths: try CLIRunner.resolvePaths(), timeout: timeout)
            print(outcome)
        }
    }
}
