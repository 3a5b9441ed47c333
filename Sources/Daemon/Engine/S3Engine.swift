import Foundation
import S3

/// An engine the daemon reaches over S3 with its admin identity: what buckets, usage and
/// uploads need is the same for the embedded engine and a cluster's S3 server.
public protocol S3Engine: StorageEngine {
    /// The daemon's client for the engine's S3 (retries, 30 s timeout).
    var client: S3Client { get }
    /// The health checks' client: one attempt, a short timeout.
    var probe: S3Client { get }
}

extension S3Engine {
    public func isHealthy() async -> Bool { await probeFailure() == nil }

    /// Why the engine does not answer an authenticated S3 request, or nil when it does.
    func probeFailure() async -> String? {
        let probe = probe
        do {
            _ = try await offloaded { try probe.send("GET", operation: "ListBuckets") }
            return nil
        } catch {
            return "\(error)"
        }
    }

    public func createBucket(_ name: String) async throws {
        let client = client
        try await engineCall("create bucket \(name)") { try client.createBucket(name) }
    }

    public func deleteBucket(_ name: String) async throws {
        let client = client
        try await engineCall("delete bucket \(name)") { try client.deleteBucket(name) }
    }

    public func bucketUsage(_ name: String) async throws -> BucketUsage {
        let client = client
        return try await engineCall("list bucket \(name)") {
            let all = try client.listAll(bucket: name)
            // Parts of unfinished uploads are stored too, though no listing of objects shows them.
            var parts: Int64 = 0
            for u in try client.listMultipartUploads(bucket: name) {
                parts += try client.partsSize(bucket: name, key: u.key, uploadId: u.uploadId)
            }
            return BucketUsage(bytes: all.objects.reduce(0) { $0 + $1.size } + parts, objects: Int64(all.objects.count))
        }
    }

    public func abortUploads(_ name: String, startedBefore cutoff: Date) async throws -> Int {
        let client = client
        return try await engineCall("abort old uploads of bucket \(name)") {
            var aborted = 0
            for u in try client.listMultipartUploads(bucket: name) where (u.initiated ?? .distantFuture) < cutoff {
                try client.abortMultipartUpload(bucket: name, key: u.key, uploadId: u.uploadId)
                aborted += 1
            }
            return aborted
        }
    }

    public func emptyBucket(_ name: String, deleted progress: @escaping @Sendable (Int) -> Void) async throws -> Int {
        let client = client
        return try await engineCall("empty bucket \(name)") {
            for u in try client.listMultipartUploads(bucket: name) {
                try client.abortMultipartUpload(bucket: name, key: u.key, uploadId: u.uploadId)
            }
            var deleted = 0
            var previous: [String] = []
            while true {
                let keys = try client.list(bucket: name, maxKeys: 1000).objects.map(\.key)
                // Empty directories can linger in listings after their objects are gone.
                if keys.isEmpty || keys == previous { return deleted }
                let failed = try client.deleteObjects(bucket: name, keys: keys)
                if let (key, why) = failed.first {
                    throw DaemonError(.failed, "engine could not delete \(failed.count) objects of bucket \(name), e.g. \(key): \(why)")
                }
                deleted += keys.count
                progress(deleted)
                previous = keys
            }
        }
    }

    /// Runs a blocking engine call off the cooperative pool; S3 failures become `DaemonError`.
    private func engineCall<T: Sendable>(_ what: String, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        do {
            return try await offloaded(work)
        } catch let e as S3Error {
            throw DaemonError(.failed, "engine refused to \(what): \(e)")
        }
    }

}
