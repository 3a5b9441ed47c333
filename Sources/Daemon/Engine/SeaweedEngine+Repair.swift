import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension SeaweedEngine {
    /// SeaweedFS's own consistency checks through `weed shell`: `volume.fsck` (orphaned or missing
    /// needles between filer and volumes) and `fs.verify` (every filer entry's chunks exist).
    public func repair(budget: Duration) async -> [RepairStep] {
        let seconds = Double(budget.components.seconds) + Double(budget.components.attoseconds) / 1e18
        let script = "lock\nvolume.fsck\nfs.verify\nunlock\nexit\n"
        // host:port.grpcPort — without the explicit gRPC port weed assumes port+10000.
        let args = ["shell", "-master=127.0.0.1:\(config.masterPort).\(config.masterGrpcPort)",
                    "-filer=127.0.0.1:\(config.filerPort).\(config.filerGrpcPort)"]
        let result = await Self.run(weedPath, args, stdin: script, timeout: seconds)
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
    public func reclaim(budget: Duration) async -> String {
        let started = ContinuousClock.now
        let seconds = Double(budget.components.seconds)
        let args = ["shell", "-master=127.0.0.1:\(config.masterPort).\(config.masterGrpcPort)",
                    "-filer=127.0.0.1:\(config.filerPort).\(config.filerGrpcPort)"]
        guard let (status, output) = await Self.run(weedPath, args, stdin: "lock\nvolume.vacuum -garbageThreshold 0.1\nunlock\nexit\n",
                                                     timeout: seconds) else {
            return "volume.vacuum did not finish within \(Int(seconds)) s and was stopped"
        }
        let took = String(format: "%.1f s", Double((ContinuousClock.now - started).components.seconds))
        let errors = output.split(separator: "\n").filter { $0.hasPrefix("error") }
        return status == 0 && errors.isEmpty ? "volume.vacuum done in \(took)"
            : "volume.vacuum failed (exit \(status)): \(errors.first.map(String.init) ?? String(output.suffix(200)))"
    }

    /// Runs a program with `stdin`, returning its exit status and output, or nil after `timeout`.
    static func run(_ path: String, _ args: [String], stdin: String, timeout: Double) async -> (Int32, String)? {
        await withCheckedContinuation { cont in
            Thread.detachNewThread {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: path)
                p.arguments = args
                let inPipe = Pipe(), outPipe = Pipe()
                p.standardInput = inPipe
                p.standardOutput = outPipe
                p.standardError = outPipe
                do { try p.run() } catch {
                    cont.resume(returning: (127, "cannot run \(path): \(error)"))
                    return
                }
                inPipe.fileHandleForWriting.write(Data(stdin.utf8))
                try? inPipe.fileHandleForWriting.close()
                let killer = DispatchWorkItem { if p.isRunning { p.terminate(); kill(p.processIdentifier, SIGKILL) } }
                DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
                let data = outPipe.fileHandleForReading.readDataToEndOfFile()
                p.waitUntilExit()
                let timedOut = killer.isCancelled == false && p.terminationReason == .uncaughtSignal
                killer.cancel()
                cont.resume(returning: timedOut ? nil : (p.terminationStatus, String(decoding: data, as: UTF8.self)))
            }
        }
    }
}
