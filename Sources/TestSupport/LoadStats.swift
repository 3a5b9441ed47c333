import Foundation
import Synchronization

/// Latencies per operation and errors, from many threads; percentiles at the end.
public final class LatencyLog: Sendable {
    private let samples = Mutex<[String: [Double]]>([:])
    private let bytes = Mutex<Int>(0)
    private let errors = Mutex<[String]>([])

    public init() {}

    /// Times `body` under `op`; an error is recorded (not thrown).
    public func time(_ op: String, bytes n: Int = 0, _ body: () throws -> Void) {
        let started = DispatchTime.now().uptimeNanoseconds
        do {
            try body()
            let s = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            samples.withLock { $0[op, default: []].append(s) }
            bytes.withLock { $0 += n }
        } catch {
            self.error("\(op): \(error)")
        }
    }

    public func error(_ text: String) { errors.withLock { $0.append(text) } }
    public var errorList: [String] { errors.withLock { $0 } }
    public var totalBytes: Int { bytes.withLock { $0 } }
    public var count: Int { samples.withLock { $0.values.reduce(0) { $0 + $1.count } } }

    /// "op: n ops, p50 x ms, p99 y ms" lines, sorted by op.
    public func summary() -> [String] {
        samples.withLock { $0 }.sorted { $0.key < $1.key }.map { op, s in
            let sorted = s.sorted()
            func p(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] * 1000 }
            return String(format: "%@: %d ops, p50 %.1f ms, p99 %.1f ms", op, sorted.count, p(0.5), p(0.99))
        }
    }
}

/// Samples a process's resident memory and open descriptors every `every` seconds. Descriptors
/// on files under `boundedUnder` (a cache that keeps a bounded number open) are counted apart, in
/// `boundedFds`, so that its filling up is not taken for a leak of the others.
public final class ProcessSampler: Sendable {
    public struct Sample: Sendable { public var at: Double; public var rssKiB: Int; public var fds: Int; public var boundedFds: Int }
    private final class Box: Sendable { let samples = Mutex<[Sample]>([]) }
    private let box = Box()
    private let workers: Workers

    public init(pid: Int32, every: Double = 1, boundedUnder: String? = nil) {
        let box = box
        let started = Date()
        workers = Workers(count: 1) { _, _ in
            if let s = ProcessSampler.sample(pid, boundedUnder: boundedUnder) {
                box.samples.withLock { $0.append(Sample(at: Date().timeIntervalSince(started), rssKiB: s.rss, fds: s.fds, boundedFds: s.bounded)) }
            }
            usleep(useconds_t(every * 1_000_000))
        }
    }

    public func stop() -> [Sample] {
        _ = workers.finish(timeout: 10)
        return box.samples.withLock { $0 }
    }

    static func sample(_ pid: Int32, boundedUnder: String?) -> (rss: Int, fds: Int, bounded: Int)? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) else { return nil }
        let dir = "/proc/\(pid)/fd"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        guard let prefix = boundedUnder.map({ $0.hasSuffix("/") ? $0 : $0 + "/" }) else { return (kib, names.count, 0) }
        let bounded = names.filter { ((try? FileManager.default.destinationOfSymbolicLink(atPath: dir + "/" + $0)) ?? "").hasPrefix(prefix) }.count
        return (kib, names.count - bounded, bounded)
    }

    /// Growth after warm-up: the median of the last third of the samples over the median of the
    /// middle third (the first third is warm-up). 1.0 means flat. Medians, not peaks: under bursts
    /// of 64 MiB transfers the peak of a third is luck (two 10-minute runs had peaks of 152 MiB in
    /// the middle third and 133 MiB in the last), while a leak lifts the whole curve. Nil when
    /// there are fewer than 6 samples: too few to tell, which a check must count as a failure.
    public static func growth(_ samples: [Sample], _ value: (Sample) -> Int) -> Double? {
        guard samples.count >= 6 else { return nil }
        let third = samples.count / 3
        func median(_ s: ArraySlice<Sample>) -> Int { s.map(value).sorted()[s.count / 2] }
        return Double(median(samples[(2 * third)...])) / Double(max(median(samples[third..<(2 * third)]), 1))
    }
}
