import Foundation

extension S3Client {
    /// Starts a multipart upload; returns its upload id.
    public func createMultipartUpload(bucket: String, key: String, metadata: [String: String] = [:], contentType: String? = nil) throws -> String {
        let op = "CreateMultipartUpload \(bucket)/\(key)"
        let headers = Self.objectHeaders(metadata: metadata, contentType: contentType)
        // Not idempotent: a retry would start a second upload.
        let r = try send("POST", bucket: bucket, key: key, query: [("uploads", "")], headers: headers, operation: op, idempotent: false)
        guard let id = try Self.parseXML(r, op).string("UploadId"), !id.isEmpty else {
            throw S3Error(kind: .invalidResponse, status: r.status, code: nil, message: "no UploadId in the answer", operation: op)
        }
        return id
    }

    /// Uploads part `number` (1–10000); returns its ETag.
    public func uploadPart(bucket: String, key: String, uploadId: String, number: Int, body: Data) throws -> String {
        let op = "UploadPart \(bucket)/\(key) #\(number)"
        let r = try send("PUT", bucket: bucket, key: key, query: [("partNumber", "\(number)"), ("uploadId", uploadId)], body: body, operation: op)
        guard let etag = r.header("ETag") else {
            throw S3Error(kind: .invalidResponse, status: r.status, code: nil, message: "no ETag for the part", operation: op)
        }
        return etag
    }

    /// Part `number` copied server side from bytes `range` of `source` (a key of the same bucket),
    /// refused (412) when `ifMatch` is given and the source has changed; returns the part's ETag.
    public func uploadPartCopy(bucket: String, key: String, uploadId: String, number: Int, source: String,
                               range: ClosedRange<Int64>, ifMatch: String?) throws -> String {
        let op = "UploadPartCopy \(bucket)/\(key) #\(number)"
        var headers = [("x-amz-copy-source", Self.sourceHeader(bucket: bucket, key: source)),
                       ("x-amz-copy-source-range", "bytes=\(range.lowerBound)-\(range.upperBound)")]
        if let ifMatch { headers.append(("x-amz-copy-source-if-match", ifMatch)) }
        let r = try send("PUT", bucket: bucket, key: key, query: [("partNumber", "\(number)"), ("uploadId", uploadId)],
                         headers: headers, operation: op)
        guard let xml = XMLNode.parse(r.body), xml.name != "Error", let etag = xml.string("ETag") else {
            let xml = XMLNode.parse(r.body)
            throw S3Error(kind: .server, status: r.status, code: xml?.string("Code"), message: xml?.string("Message") ?? "no ETag for the copied part",
                          operation: op)
        }
        return etag
    }

    /// Completes the upload from its parts (number, ETag), in order.
    public func completeMultipartUpload(bucket: String, key: String, uploadId: String, parts: [(Int, String)]) throws {
        let op = "CompleteMultipartUpload \(bucket)/\(key)"
        let xml = "<CompleteMultipartUpload>" + parts.map {
            "<Part><PartNumber>\($0.0)</PartNumber><ETag>\(xmlEscape($0.1))</ETag></Part>"
        }.joined() + "</CompleteMultipartUpload>"
        let r = try send("POST", bucket: bucket, key: key, query: [("uploadId", uploadId)], body: Data(xml.utf8), operation: op, idempotent: false)
        if let node = XMLNode.parse(r.body), node.name == "Error" {
            throw S3Error(kind: .server, status: r.status, code: node.string("Code"), message: node.string("Message") ?? "complete failed", operation: op)
        }
    }

    public func abortMultipartUpload(bucket: String, key: String, uploadId: String) throws {
        _ = try send("DELETE", bucket: bucket, key: key, query: [("uploadId", uploadId)], operation: "AbortMultipartUpload \(bucket)/\(key)")
    }

    /// An upload that was started and neither completed nor aborted.
    public struct PendingUpload: Sendable, Equatable {
        public var key: String
        public var uploadId: String
        public var initiated: Date?
    }

    /// Every unfinished multipart upload of the bucket (all pages).
    public func listMultipartUploads(bucket: String) throws -> [PendingUpload] {
        var out: [PendingUpload] = []
        var keyMarker: String?, idMarker: String?
        repeat {
            var q = [("uploads", ""), ("max-uploads", "1000")]
            if let keyMarker { q.append(("key-marker", keyMarker)) }
            if let idMarker { q.append(("upload-id-marker", idMarker)) }
            let op = "ListMultipartUploads \(bucket)"
            let root = try Self.parseXML(try send("GET", bucket: bucket, query: q, operation: op), op)
            out += root.all("Upload").map {
                PendingUpload(key: $0.string("Key") ?? "", uploadId: $0.string("UploadId") ?? "", initiated: $0.string("Initiated").flatMap(Self.parseISODate))
            }
            let truncated = root.string("IsTruncated") == "true"
            keyMarker = truncated ? root.string("NextKeyMarker") : nil
            idMarker = truncated ? root.string("NextUploadIdMarker") : nil
            if truncated && keyMarker == nil { break }  // a server that says "more" without a marker
        } while keyMarker != nil
        return out
    }

    /// The bytes an unfinished upload's parts hold (all pages).
    public func partsSize(bucket: String, key: String, uploadId: String) throws -> Int64 {
        var total: Int64 = 0
        var marker: String?
        repeat {
            var q = [("uploadId", uploadId), ("max-parts", "1000")]
            if let marker { q.append(("part-number-marker", marker)) }
            let op = "ListParts \(bucket)/\(key)"
            let root = try Self.parseXML(try send("GET", bucket: bucket, key: key, query: q, operation: op), op)
            total += root.all("Part").reduce(0) { $0 + (Int64($1.string("Size") ?? "") ?? 0) }
            marker = root.string("IsTruncated") == "true" ? root.string("NextPartNumberMarker") : nil
        } while marker != nil
        return total
    }
}
