import Foundation
import S3

extension ClusterMigration {
    /// Copies every object of `bucket` with its metadata and content type; objects the cluster
    /// has already with the same ETag and size (an earlier, interrupted run) are skipped. Each
    /// copy is checked: the cluster's size must be the source's.
    func copyObjects(of bucket: String, from source: S3Client, to cluster: S3Client, resumed: Bool) throws -> Report.Bucket {
        let objects = try source.listAll(bucket: bucket).objects
        let total = objects.reduce(Int64(0)) { $0 + $1.size }
        var there: [String: ObjectInfo] = [:]
        if resumed { for o in try cluster.listAll(bucket: bucket).objects { there[o.key] = o } }
        progress("bucket \(bucket): \(objects.count) objects, \(BucketSpec.sizeText(total))\(resumed ? " (going on from an earlier run)" : "")")
        var copied = 0, done: Int64 = 0, lastSaid = Date()
        for o in objects {
            defer { done += o.size }
            if let t = there[o.key], t.size == o.size, t.etag != nil, t.etag == o.etag { continue }
            let head = try source.head(bucket: bucket, key: o.key)
            if head.size <= Self.partSize {
                let data = try source.get(bucket: bucket, key: o.key)
                _ = try cluster.put(bucket: bucket, key: o.key, body: data, metadata: head.metadata, contentType: head.contentType)
            } else {
                try copyInParts(bucket, o.key, head, from: source, to: cluster)
            }
            let stored = try cluster.head(bucket: bucket, key: o.key)
            guard stored.size == head.size else {
                throw DaemonError(.failed, "\(bucket)/\(o.key): the cluster stored \(stored.size) bytes of \(head.size)", fix: "run the migration again")
            }
            copied += 1
            if Date().timeIntervalSince(lastSaid) >= 2 {
                lastSaid = Date()
                progress("bucket \(bucket): \(BucketSpec.sizeText(done + o.size)) of \(BucketSpec.sizeText(total)) copied")
            }
        }
        progress("bucket \(bucket): done, \(copied) objects copied\(objects.count > copied ? ", \(objects.count - copied) already there" : "")")
        return Report.Bucket(name: bucket, objects: objects.count, bytes: total, copied: copied, resumed: resumed)
    }

    /// A large object: ranged reads of `partSize` each, a multipart upload; aborted on failure.
    private func copyInParts(_ bucket: String, _ key: String, _ head: ObjectInfo, from source: S3Client, to cluster: S3Client) throws {
        let uploadId = try cluster.createMultipartUpload(bucket: bucket, key: key, metadata: head.metadata, contentType: head.contentType)
        do {
            var parts: [(Int, String)] = []
            var offset: Int64 = 0
            while offset < head.size {
                let end = min(offset + Self.partSize, head.size) - 1
                let data = try source.get(bucket: bucket, key: key, range: offset...end, ifMatch: head.etag)
                parts.append((parts.count + 1, try cluster.uploadPart(bucket: bucket, key: key, uploadId: uploadId, number: parts.count + 1, body: data)))
                offset = end + 1
            }
            try cluster.completeMultipartUpload(bucket: bucket, key: key, uploadId: uploadId, parts: parts)
        } catch {
            try? cluster.abortMultipartUpload(bucket: bucket, key: key, uploadId: uploadId)
            throw error
        }
    }
}
