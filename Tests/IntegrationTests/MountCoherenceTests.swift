import Daemon
import Foundation
import Synchronization
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Two mounts of one bucket through the daemon, as two hosts would have: what one writes, the
/// other reads whole — an older version or the newer one, never a mix and never the newer one cut
/// at an older size (SEMANTICS.md, "Coherence").
@Suite struct MountCoherenceTests {
    /// Version `v` of file `f`: `"<v>;"` and then the byte `v % 251`, in one of three sizes that
    /// change with every version (10 B, 4 KiB, 300 KB), so a stale size shows as a wrong length.
    static func content(file f: Int, version v: Int) -> Data {
        let sizes = [10, 4096, 300_000]
        var d = Data("\(v);".utf8)
        d.append(Data(repeating: UInt8(v % 251), count: sizes[(f + v) % 3] - d.count))
        return d
    }

    @Test func aReaderOnAnotherMountNeverGetsAFileCutAtAnOlderSize() throws {
        let h = try DaemonHarness(name: "coh")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("shared")
        let g = try h.mintGrant("shared")
        let (a, _) = try h.mountWithGrant(g, bucket: "shared", name: "a")
        defer { h.forceUnmount(a) }
        let (b, _) = try h.mountWithGrant(g, bucket: "shared", name: "b")
        defer { h.forceUnmount(b) }
        let files = 10
        for f in 0..<files { try Self.content(file: f, version: 0).write(to: URL(fileURLWithPath: "\(a)/f\(f)")) }
        #expect(eventually(timeout: 30) { (0..<files).allSatisfy { FileManager.default.fileExists(atPath: "\(b)/f\($0)") } })

        // Mount A overwrites the files in place (open O_TRUNC, write, close), round after round ...
        let seconds = Double(ProcessInfo.processInfo.environment["GT_COHERENCE_SECONDS"] ?? "40") ?? 40
        let stop = Date().addingTimeInterval(seconds)
        let writerFailures = Mutex<[String]>([])
        let writer = Thread {
            var v = 0
            while Date() < stop {
                v += 1
                for f in 0..<files {
                    let data = Self.content(file: f, version: v)
                    let fd = open("\(a)/f\(f)", O_WRONLY | O_TRUNC)
                    let wrote = fd >= 0 ? data.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) } : -1
                    if fd < 0 || wrote != data.count || close(fd) != 0 { writerFailures.withLock { $0.append("f\(f) v\(v): errno \(errno)") } }
                }
            }
        }
        writer.start()
        // ... while mount B reads each whole in a loop: every read must be one version, whole.
        var reads = 0, stale = 0, newer = 0
        var bad: [String] = []
        var seen = [Int](repeating: 0, count: files)
        while Date() < stop {
            for f in 0..<files {
                switch posixRead("\(b)/f\(f)") {
                case .failure(let e) where e.code == .ESTALE || e.code == .ENOENT:
                    stale += 1  // the object changed under the open: refused, never mixed
                case .failure(let e):
                    bad.append("f\(f): \(e.code)")
                case .success(let data):
                    reads += 1
                    guard let semi = data.firstIndex(of: UInt8(ascii: ";")), let v = Int(String(decoding: data[..<semi], as: UTF8.self)) else {
                        bad.append("f\(f): \(data.count) bytes without a version"); continue
                    }
                    let expected = Self.content(file: f, version: v)
                    if data != expected {
                        bad.append("f\(f) v\(v): \(data.count) bytes of \(expected.count)" + (expected.starts(with: data) ? " (a prefix)" : " (other bytes)"))
                    }
                    if v > seen[f] { newer += 1; seen[f] = v }
                }
            }
        }
        while !writer.isFinished { usleep(50_000) }
        print("coherence: \(reads) whole reads, \(newer) of a newer version than the last, \(stale) refused (ESTALE), \(bad.count) wrong")
        #expect(writerFailures.withLock { $0 }.isEmpty, "\(writerFailures.withLock { $0.prefix(5) })")
        let wrong = bad.count
        #expect(wrong == 0, "wrong reads, e.g. \(bad.prefix(5))")
        // The test saw the files change under it, often: otherwise it would prove nothing.
        #expect(reads >= 500 && newer >= 100, "\(reads) reads, \(newer) of newer versions")
    }
}
