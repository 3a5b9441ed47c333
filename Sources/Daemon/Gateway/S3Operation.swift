import Foundation

/// What an S3 request asks for, classified from its method, path-style path, query and headers —
/// the unit the front door's policy decides on (ADR 0002).
public struct S3Operation: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case listBuckets, createBucket, deleteBucket, headBucket, getBucketLocation
        case listObjects, listObjectsV2, listMultipartUploads, deleteObjects
        /// The daemon's own: a bucket's changes, streamed (`GET /<bucket>?changes`, docs/CHANGES.md).
        case listChanges
        case headObject, getObject, putObject, copyObject, renameObject, deleteObject
        case createMultipartUpload, uploadPart, uploadPartCopy, completeMultipartUpload, abortMultipartUpload, listParts
        case unsupported
    }

    /// The permission of a grant that an operation needs (issue 5's mapping).
    public enum Permission: String, Sendable, CaseIterable, Comparable {
        case read, write, list, delete
        public static func < (a: Permission, b: Permission) -> Bool { a.rawValue < b.rawValue }
    }

    public var kind: Kind
    public var bucket: String?
    public var key: String?
    /// For copies: the source as `bucket/key`.
    public var copySource: String?
    /// For renames (`PUT <key>?renameObject`, SeaweedFS and S3 Express): the source as `bucket/key`.
    public var renameSource: String?
    /// Why `x-amz-copy-source` (or `x-amz-rename-source`) was not taken, when it was given in a form
    /// the gateway does not read exactly as the engine does (the request is then refused).
    public var copySourceProblem: String?

    /// `x-amz-copy-source` as `bucket/key`, only in the one form that every reader agrees on:
    /// percent-encoded once, an optional leading `/`, no query (a raw `?`; an encoded `%3F` is part
    /// of the key, except as `?versionId=`, which some engine versions split off after decoding), no
    /// `+` (which Go's QueryUnescape reads as a space), no empty, `.` or `..` segment.
    /// Anything else would let the gateway size one object while the engine copies another.
    public static func parseCopySource(_ raw: String, header: String = "x-amz-copy-source") -> Result<String, CopySourceError> {
        func bad(_ why: String) -> Result<String, CopySourceError> { .failure(CopySourceError(message: "\(header) \(why)")) }
        if raw.contains("?") { return bad("may not carry a query (versions are not supported)") }
        if raw.contains("+") { return bad("must encode '+' as %2B") }
        guard var decoded = raw.removingPercentEncoding else { return bad("is not valid percent-encoding") }
        if decoded.contains("?versionId=") { return bad("may not name a key with '?versionId='") }
        if decoded.hasPrefix("/") { decoded.removeFirst() }
        let parts = decoded.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 2, !parts[0].isEmpty else { return bad("must be <bucket>/<key>") }
        if parts.dropFirst().contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) {
            return bad("may not have empty, '.' or '..' path segments")
        }
        if decoded.utf8.contains(0) { return bad("may not contain a NUL byte") }
        return .success(decoded)
    }

    public struct CopySourceError: Error, Sendable, Equatable { public var message: String }

    /// Path-style only: `/`, `/<bucket>`, `/<bucket>/<key>`; `path` is percent-decoded.
    public static func classify(method: String, path: String, query: [String: String], headers: (String) -> String?) -> S3Operation {
        var p = Substring(path)
        while p.hasPrefix("/") { p = p.dropFirst() }
        let slash = p.firstIndex(of: "/")
        let bucket = p.isEmpty ? nil : String(slash.map { p[..<$0] } ?? p)
        let key = slash.map { String(p[p.index(after: $0)...]) }.flatMap { $0.isEmpty ? nil : $0 }
        var source: String?, problem: String?
        if let raw = headers("x-amz-copy-source") {
            switch parseCopySource(raw) {
            case let .success(s): source = s
            case let .failure(e): problem = e.message; source = ""
            }
        }
        var renamed: String?
        let renaming = method == "PUT" && key != nil && query["renameObject"] != nil
        if let raw = headers("x-amz-rename-source") {
            switch (renaming, parseCopySource(raw, header: "x-amz-rename-source")) {
            case (false, _): problem = "x-amz-rename-source is only for a PUT of a key with ?renameObject"
            case let (true, .success(s)): renamed = s
            case let (true, .failure(e)): problem = e.message
            }
        } else if renaming {
            problem = "PUT ?renameObject needs x-amz-rename-source: bucket/key"
        }
        if renaming && source != nil { problem = "a rename cannot also be a copy (x-amz-copy-source)" }
        func op(_ k: Kind) -> S3Operation {
            S3Operation(kind: k, bucket: bucket, key: key, copySource: source, renameSource: renamed, copySourceProblem: problem)
        }
        let has = { (name: String) in query[name] != nil }
        // Only the parameters of operations the gateway knows reach the engine: any other (append,
        // retention, legal-hold, …) could make the engine do something no policy has decided on.
        if key != nil, let allowed = Self.objectQuery[method], query.keys.contains(where: { name in
            !(allowed.contains(name) || GatewayRequest.authQuery.contains(name) || name.hasPrefix("response-") && (method == "GET" || method == "HEAD"))
        }) {
            return op(.unsupported)
        }
        switch (method, bucket, key) {
        case ("GET", nil, nil): return op(.listBuckets)
        case ("PUT", _?, nil): return op(.createBucket)
        case ("DELETE", _?, nil): return op(.deleteBucket)
        case ("HEAD", _?, nil): return op(.headBucket)
        case ("GET", _?, nil):
            if has("location") { return op(.getBucketLocation) }
            if has("uploads") { return op(.listMultipartUploads) }
            if has("changes") { return query.keys.allSatisfy({ ["changes", "since"].contains($0) }) ? op(.listChanges) : op(.unsupported) }
            if query.keys.contains(where: { !["list-type", "prefix", "delimiter", "max-keys", "continuation-token", "start-after",
                                              "marker", "encoding-type", "fetch-owner", "metadata"].contains($0) }) { return op(.unsupported) }
            return op(query["list-type"] == "2" ? .listObjectsV2 : .listObjects)
        case ("POST", _?, nil): return has("delete") ? op(.deleteObjects) : op(.unsupported)
        case ("HEAD", _?, _?): return op(.headObject)
        case ("GET", _?, _?): return has("uploadId") ? op(.listParts) : op(.getObject)
        case ("PUT", _?, _?):
            if has("partNumber") && has("uploadId") { return op(source == nil ? .uploadPart : .uploadPartCopy) }
            if renaming { return op(.renameObject) }
            return op(source == nil ? .putObject : .copyObject)
        case ("POST", _?, _?):
            if has("uploads") { return op(.createMultipartUpload) }
            if has("uploadId") { return op(.completeMultipartUpload) }
            return op(.unsupported)
        case ("DELETE", _?, _?): return has("uploadId") ? op(.abortMultipartUpload) : op(.deleteObject)
        default: return op(.unsupported)
        }
    }

    /// The query parameters object operations may carry, per method (`response-*` on GET and HEAD too).
    static let objectQuery: [String: Set<String>] = [
        "GET": ["partNumber", "uploadId", "max-parts", "part-number-marker", "encoding-type", "versionId", "x-id"],
        "HEAD": ["partNumber", "versionId", "x-id"],
        "PUT": ["partNumber", "uploadId", "renameObject", "x-id"],
        "POST": ["uploads", "uploadId", "x-id"],
        "DELETE": ["uploadId", "versionId", "x-id"],
    ]

    /// The grant permission this operation needs; nil for operations no grant may do (bucket
    /// creation and deletion are the CLI's) or that every grant may do (ListBuckets, filtered).
    public var permission: Permission? {
        switch kind {
        case .getObject, .headObject, .listParts: return .read
        case .listObjects, .listObjectsV2, .headBucket, .getBucketLocation, .listMultipartUploads, .listChanges: return .list
        case .putObject, .copyObject, .renameObject, .createMultipartUpload, .uploadPart, .uploadPartCopy, .completeMultipartUpload: return .write
        case .deleteObject, .deleteObjects, .abortMultipartUpload: return .delete
        case .listBuckets, .createBucket, .deleteBucket, .unsupported: return nil
        }
    }

    /// Whether it changes stored data (refused while the daemon is read-only).
    public var writes: Bool { permission == .write || permission == .delete || kind == .createBucket || kind == .deleteBucket }
}
