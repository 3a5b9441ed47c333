import CGaragetytus
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `weed shell` against an engine's master and filer: SeaweedFS's own consistency checks and
/// space reclaim, for the embedded engine (in its namespace) and a cluster alike.
struct WeedShell: Sendable {
    var weedPath: String
    /// `host:port.grpcPort` — without the explicit gRPC port weed assumes port + 10000.
    var master: String
    var filer: String
    /// Where `weed` reads `security.toml` from (`-config_dir`); also its HOME and working directory.
    var configDir: String
    /// How it reaches the engine (a sealed engine's network namespace), asked at each run.
    var isolation: @Sendable () -> Isolation = { .none }

    /// SeaweedFS's own consistency checks through `weed shell`: `volume.fsck` (orphaned or missing
    /// needles between filer and volumes) and `fs.verify` (every filer entry's chunks exist).
    func repair(budget: Duration) async -> [RepairStep] {
        let seconds = Double(budget.components.seconds) + Double(budget.components.attoseconds) / 1e18
        let script = "lock\nvolume.fsck\nfs.verify\nunlock\nexit\n"
        // host:port.grpcPort — without the explicit gRPC port weed assumes port+10000.
        let result = await shell(script, timeout: seconds)
        guard let (status, output) = result else {
            return [RepairStep(name: "engine consistency check", ok: false,
                               detail: "weed shell did not finish within \(Int(seconds)) s and was stopped")]
        }
        let lines = output.split(separator: "\n").map(String.init)
        let fsck = lines.last { $0.contains("orphan") } ?? "no volume.fsck summary"
        let verify = lines.last { $0.hasPrefix("verified ") } ?? "no fs.verify summary"
        let verifyErrors = verify.range(of: #"error (\d+) files"#, options: .regularExpression)
            .map { String(verify[$0]).split(separator: " ")[1] } ?? "?"
        let failed = lines.contains { $0.hasPrefix("error:") }
        return [
            RepairStep(name: "engine volume.fsck", ok: status == 0 && !failed, detail: fsck),
            RepairStep(name: "engine fs.verify", ok: status == 0 && !failed && verifyErrors == "0", detail: verify),
        ]
    }

    /// SeaweedFS keeps a deleted object's bytes in its volume until the volume is vacuumed (which
    /// it schedules by itself only now and then): `volume.vacuum` compacts every volume whose
    /// garbage is above 10 %.
    func reclaim(budget: Duration) async -> String {
        let started = ContinuousClock.now
        let seconds = Double(budget.components.seconds)
        guard let (status, output) = await shell("lock\nvolume.vacuum -garbageThreshold 0.1\nunlock\nexit\n", timeout: seconds) else {
            return "volume.vacuum did not finish within \(Int(seconds)) s and was stopped"
        }
        let took = String(format: "%.1f s", Double((ContinuousClock.now - started).components.seconds))
        let errors = output.split(separator: "\n").filter { $0.hasPrefix("error") }
        return status == 0 && errors.isEmpty ? "volume.vacuum done in \(took)"
            : "volume.vacuum failed (exit \(status)): \(errors.first.map(String.init) ?? String(output.suffix(200)))"
    }

    /// Runs `weed shell` with `script` on stdin; its exit status and output, or nil after `timeout`.
    func shell(_ script: String, timeout: Double) async -> (Int32, String)? {
        let args = ["-logtostderr", "-config_dir=\(configDir)", "shell", "-master=\(master)", "-filer=\(filer)"]
        let request = SpawnRequest(path: weedPath, arguments: args,
                                   environment: ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": configDir],
                                   isolation: isolation(), workingDirectory: configDir, umask: 0o077)
        return await Self.run(request, stdin: script, timeout: timeout)
    }

    /// Runs a program with `stdin`, returning its exit status and output, or nil after `timeout`.
    static func run(_ spec: SpawnRequest, stdin: String, timeout: Double) async -> (Int32, String)? {
        await withCheckedContinuation { cont in
            Thread.detachNewThread {
                var input: [Int32] = [-1, -1], output: [Int32] = [-1, -1]
                guard gt_pipe_cloexec(&input) == 0, gt_pipe_cloexec(&output) == 0 else {
                    cont.resume(returning: (127, "cannot make a pipe: \(String(cString: strerror(errno)))"))
                    return
                }
                var request = spec
                request.stdinFD = input[0]
                request.outputFD = output[1]
                let started = Spawn.start(request)
                close(input[0])
                close(output[1])
                guard case let .success(pid) = started else {
                    close(input[1]); close(output[0])
                    if case let .failure(f) = started { cont.resume(returning: (127, f.description)) }
                    return
                }
                let writer = FileHandle(fileDescriptor: input[1], closeOnDealloc: true)
                try? writer.write(contentsOf: Data(stdin.utf8))
                try? writer.close()
                let timedOut = Mutex(false)
                let killer = DispatchWorkItem {
                    timedOut.withLock { $0 = true }
                    kill(pid, SIGKILL)
                }
                DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
                let data = FileHandle(fileDescriptor: output[0], closeOnDealloc: true).readDataToEndOfFile()
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                killer.cancel()
                // WEXITSTATUS is a macro: decode the status word by hand.
                let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                cont.resume(returning: timedOut.withLock { $0 } ? nil : (code, String(decoding: data, as: UTF8.self)))
            }
        }
    }
}
