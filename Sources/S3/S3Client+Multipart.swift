import Foundation

extension S3Client {
    /// Starts a multipart upload; returns its upload id.
    public func createMultipartUpload(bucket: String, key: String, metadata: [String: String] = [:]) throws -> String {
        let op = "CreateMultipartUpload \(bucket)/\(key)"
        let headers = metadata.sorted { $0.key < $1.key }.map { ("x-amz-meta-\($0.key)", $0.value) }
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
}
