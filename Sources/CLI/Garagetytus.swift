import ArgumentParser
import Daemon

/// `garagetytus`: the daemon and everything else.
public struct GaragetytusCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "garagetytus",
        abstract: "A host-local S3 service with enforced buckets and grants, and mounts of buckets as directories.",
        discussion: """
        Files live under ~/.config/garagetytus and ~/.local/share/garagetytus (XDG), or all under $GARAGETYTUS_HOME when set.

        Examples:
          garagetytus start && garagetytus status
          curl -s http://127.0.0.1:3904/metrics
          garagetytus stop
        """,
        version: Version.current,
        subcommands: [BootstrapCommand.self, Serve.self, Start.self, Stop.self, Restart.self, Status.self,
                      Healthz.self, RepairCommand.self, AuditCommand.self, ServiceCommand.self, MountHelperCommand.self, BucketCommand.self, WorkspaceCommand.self, StorageCommand.self, KeyCommand.self,
                      MountCommand.self, UnmountCommand.self, MigrateToCluster.self, DashboardCommand.self])

    public init() {}
}

/// `artifacts`: the workspace front — workspaces, their credentials, service tokens and mounts.
public struct ArtifactsCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "artifacts",
        abstract: "Workspaces: buckets mounted as directories, with cached, rotatable credentials.",
        discussion: """
        The daemon itself is run with `garagetytus`. `--format json` (before or after a subcommand) prints JSON.

        Examples:
          artifacts workspace create cases --ttl 7d --quota 10G
          artifacts mount cases /mnt/work
          artifacts --format json workspace list | jq .
          artifacts storage set --access-key-id AK --secret-stdin < secret.txt
          artifacts unmount /mnt/work
        """,
        version: Version.current,
        subcommands: [WorkspaceCommand.self, MountCommand.self, UnmountCommand.self, StorageCommand.self, KeyCommand.self,
                      ArtifactsStatus.self, ArtifactsStats.self, ArtifactsHealthz.self])

    public init() {}

    /// Entry point: `--format` may come before the subcommand (`artifacts --format json workspace list`).
    public static func main() async {
        await CLIMain.run(Self.self, GlobalOptions.hoistFormat(Array(CommandLine.arguments.dropFirst())))
    }
}
