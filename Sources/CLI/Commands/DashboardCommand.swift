import ArgumentParser
import Daemon
import Foundation

/// `garagetytus dashboard`: a one-time link to the daemon's dashboard.
struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Print a one-time link to the daemon's dashboard (mode, buckets, grants, mounts, audit, traffic).",
        discussion: """
        The page is served on the metrics port of this host and refreshes itself every five seconds. The link works once, within ten minutes; the browser that opened it keeps a session for twelve hours. Without a link the page answers 401.

        Examples:
          garagetytus dashboard
          garagetytus dashboard --open
          garagetytus dashboard --json
        """)
    @Flag(help: "Open the link in this host's browser (xdg-open).") var open = false
    @OptionGroup var output: JSONOption

    func run() async throws {
        try await CLIRunner.run {
            let link = try ControlClient.current().json("POST", "/v1/dashboard", as: DashboardLink.self)
            if output.json { CLIRunner.printJSON(link) } else { print(link.url) }
            guard open else { return }
            guard let opener = ["/usr/bin/xdg-open", "/usr/bin/sensible-browser"].first(where: FileManager.default.isExecutableFile) else {
                throw DaemonError(.environment, "no browser opener (xdg-open) on this host", fix: "open the link above yourself")
            }
            let p = try Process.run(URL(fileURLWithPath: opener), arguments: [link.url])
            p.waitUntilExit()
            if p.terminationStatus != 0 { throw DaemonError(.environment, "\(opener) could not open the link (exit \(p.terminationStatus))", fix: "open it yourself") }
        }
    }
}
