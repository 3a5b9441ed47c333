import Foundation

extension SeaweedEngine: DaemonEngine {
    var generation: Int32? { currentPID }

    /// `weed filer.meta.tail` over the buckets, from `timeAgo` seconds back, printing to
    /// `output` (stderr to /dev/null): in the engine's network namespace when it is sealed, with
    /// the engine's `security.toml`. Nil while no engine runs. Also the engine pid it joins.
    func tailRequest(timeAgo: Double, output: Int32) -> (SpawnRequest, generation: Int32)? {
        guard let pid = currentPID else { return nil }
        let args = ["-config_dir=\(paths.engineDir)", "filer.meta.tail",
                    "-filer=127.0.0.1:\(config.filerPort).\(config.filerGrpcPort)", "-pathPrefix=/buckets/",
                    "-timeAgo=\(Int64(max(timeAgo, 0.001) * 1000))ms"]
        var request = SpawnRequest(path: weedPath, arguments: args,
                                   environment: ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": paths.engineDir],
                                   isolation: config.sealed ? .joining(pid: pid) : .none, workingDirectory: paths.engineDir, umask: 0o077)
        request.outputFD = output
        request.errorFD = -1
        request.parentDeathSignal = SIGKILL
        return (request, pid)
    }
}
