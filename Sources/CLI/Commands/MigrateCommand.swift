import ArgumentParser
import Daemon
import Foundation

/// `garagetytus migrate-to-cluster`: from the embedded engine to an existing SeaweedFS cluster.
struct MigrateToCluster: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-to-cluster",
        abstract: "Copy this daemon's buckets, objects and active grants into a SeaweedFS cluster and switch it there.",
        discussion: """
        The daemon must run: the objects are read through its gateway. Stop writers first: an object changed during the copy is copied as it was when read.

        Everything is checked first: the cluster's parts answer with these settings, and no bucket name is taken there. Then each bucket's record and objects (with their metadata) and each active grant are copied.

        garagetytus.toml is switched to the cluster; the previous file is kept as garagetytus.toml.embedded, and the embedded engine's data is left in place. Interrupted, run it again: it goes on where it stopped. Afterwards: garagetytus restart.

        Examples:
          garagetytus migrate-to-cluster --masters 10.77.0.1:9333 --filer 10.77.0.1:8888 \\
            --s3-endpoint http://10.77.0.1:8333 --identity-file /etc/garagetytus/engine-identity.json --dry-run
          garagetytus migrate-to-cluster --masters 10.77.0.1:9333 --filer 10.77.0.1:8888 \\
            --s3-endpoint http://10.77.0.1:8333 --identity-file /etc/garagetytus/engine-identity.json && garagetytus restart
        """)
    @Option(help: "The cluster's masters, host:port (comma-separated).") var masters: String
    @Option(help: "A filer of the cluster, host:port.") var filer: String
    @Option(name: .customLong("s3-endpoint"), help: "The cluster's S3 server, http(s)://host:port.") var s3Endpoint: String
    @Option(name: .customLong("identity-file"), help: "The cluster's admin S3 identity (JSON, mode 0600).") var identityFile: String
    @Option(name: .customLong("security-file"), help: "The cluster's security.toml, if it has one.") var securityFile = ""
    @Option(name: .customLong("state-bucket"), help: "The cluster's bucket for shared buckets and grants.") var stateBucket = "garagetytus-state"
    @Flag(name: .customLong("dry-run"), help: "Check and count; copy and change nothing.") var dryRun = false
    @OptionGroup var output: JSONOption

    func run() async throws {
        try await CLIRunner.run {
            let paths = try CLIRunner.bootstrappedPaths()
            let config = try Bootstrap.loadConfig(paths: paths)
            let target = ClusterMigration.Target(masters: masters.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) },
                                                 filer: filer, s3Endpoint: s3Endpoint, identityFile: identityFile,
                                                 securityFile: securityFile, stateBucket: stateBucket)
            let line = ProgressLine()
            let migration = ClusterMigration(paths: paths, config: config, target: target, progress: { line.update("migrate: " + $0) })
            try await migration.checkCluster()
            let report: ClusterMigration.Report
            do {
                defer { line.finish() }
                report = try await offloadedMigration { try migration.run(dryRun: dryRun) }
            }
            if output.json { CLIRunner.printJSON(report); return }
            for b in report.buckets {
                print("\(b.name): \(b.objects) objects, \(b.bytes) bytes\(dryRun ? "" : ", \(b.copied) copied")\(b.resumed ? " (continued)" : "")")
            }
            print("\(report.grants) active grant(s)\(dryRun ? " to copy" : " copied")")
            if dryRun {
                print("dry run: nothing was copied or changed")
            } else {
                print("\(report.configFile) now names the cluster (the previous file: \(report.previousConfig)); run: garagetytus restart")
            }
        }
    }

    private func offloadedMigration(_ work: @escaping @Sendable () throws -> ClusterMigration.Report) async throws -> ClusterMigration.Report {
        try await withCheckedThrowingContinuation { c in
            Thread.detachNewThread { c.resume(with: Result { try work() }) }
        }
    }
}
