import ArgumentParser
import Credentials
import Daemon
import Foundation
import S3
import Workspaces

struct ArtifactsStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "The daemon's health and every workspace mount of this host (responsive, uploads pending, last error).",
        discussion: "Examples:\n  artifacts status\n  artifacts --format json status | jq '.mounts[] | select(.responsive | not)'")
    @OptionGroup var output: FormatOption

    func run() async throws {
        try await CLIRunner.run {
            let st = try HostStatus.gather(try WorkspaceHost.current())
            if output.json { CLIRunner.printJSON(st); return }
            var lines = ["daemon: " + (st.daemon.running ? "running, \(st.daemon.healthy ? "healthy" : "not healthy"), mode \(st.daemon.mode ?? "?")" : "not running")]
            lines.append("workspaces: " + (st.workspaces.isEmpty ? "none" : st.workspaces.joined(separator: ", ")))
            for m in st.mounts {
                lines.append("mount \(m.mountpoint) (\(m.workspace.isEmpty ? "no workspace" : m.workspace), pid \(m.pid)): "
                             + (m.responsive ? "responsive, \(m.uploadsPending) uploads pending, \(m.uploadsFailed) failed" : "NOT RESPONDING")
                             + (m.lastError.map { "; last error: \($0)" } ?? ""))
            }
            print(lines.joined(separator: "\n"))
        }
    }
}

struct ArtifactsHealthz: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "healthz", abstract: "Exit 0 and print ok when the daemon (if used) and every mount of this host answer.",
        discussion: "Examples:\n  artifacts healthz\n  HEALTHCHECK CMD artifacts healthz     # in a Dockerfile")

    func run() async throws {
        try await CLIRunner.run {
            let w = try WorkspaceHost.current()
            let needsDaemon = ((try? w.store.list()) ?? []).contains { $0.kind == .managed }
            let problems = try HostStatus.gather(w).problems(needsDaemon: needsDaemon)
            if problems.isEmpty { print("ok"); return }
            print("unhealthy: " + problems.joined(separator: "; "))
            throw ExitCode(1)
        }
    }
}

struct ArtifactsStats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Operations, bytes and errors per workspace over 1h, 24h or 7d.",
        discussion: """
        From the daemon's per-bucket rollups (managed workspaces, and any workspace whose bucket the local daemon serves) and the counters of this host's live mounts (since each mount started).

        Examples:
          artifacts stats
          artifacts stats cases --window 7d --format json
        """)
    @Argument(help: "Workspace (default: all).") var workspace: String?
    @Option(help: "1h, 24h or 7d.") var window: String = "24h"
    @OptionGroup var output: FormatOption

    func run() async throws {
        try await CLIRunner.run {
            let rows = try WorkspaceHost.current().stats(workspace: workspace, window: window)
            if output.json { CLIRunner.printJSON(rows); return }
            if rows.isEmpty { print("no workspaces"); return }
            print(Human.table([["WORKSPACE", "WINDOW", "OPS", "READ", "WRITTEN", "MOUNT READ", "MOUNT WRITTEN", "MOUNT ERRORS"]] + rows.map {
                [$0.workspace, $0.window, $0.ops.map(String.init) ?? "-", $0.bytesOut.map(Human.bytes) ?? "-", $0.bytesIn.map(Human.bytes) ?? "-",
                 Human.bytes($0.mountBytesRead), Human.bytes($0.mountBytesWritten), "\($0.mountErrors)"]
            }))
        }
    }
}
