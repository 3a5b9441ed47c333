import Foundation
import S3

/// One change of one object of a bucket, as the engine's filer reported it (see `MetaTailDecoder`).
public struct ChangeEvent: Sendable, Equatable {
    public enum Op: String, Sendable { case put, delete }
    /// The filer's event time in nanoseconds: increasing, and the position a follower resumes from.
    public var seq: UInt64
    public var bucket: String
    /// The object key; a directory of the filer's (an S3 prefix) ends in "/".
    public var key: String
    public var op: Op
    /// Puts: the ETag S3 gives the new version (unquoted), and its size, when the filer says.
    public var etag: String?
    public var size: Int64?
    /// Puts: the S3 date of the version (seconds) and its user metadata (names lowercased,
    /// without `x-amz-meta-`), so a follower needs no HEAD to know the new attributes.
    public var mtime: Int64?
    public var metadata: [String: String]?

    public init(seq: UInt64, bucket: String, key: String, op: Op, etag: String? = nil, size: Int64? = nil,
                mtime: Int64? = nil, metadata: [String: String]? = nil) {
        self.mtime = mtime
        self.metadata = metadata
        self.seq = seq
        self.bucket = bucket
        self.key = key
        self.op = op
        self.etag = etag
        self.size = size
    }

    /// The line a follower reads: one JSON object (see docs/CHANGES.md).
    public var line: String {
        var s = "{\"op\":\"\(op.rawValue)\",\"seq\":\(seq),\"key\":\(Self.quoted(key))"
        if let etag { s += ",\"etag\":\(Self.quoted(etag))" }
        if let size { s += ",\"size\":\(size)" }
        if let mtime { s += ",\"mtime\":\(mtime)" }
        if let metadata {
            s += ",\"meta\":{" + metadata.sorted { $0.key < $1.key }.map { "\(Self.quoted($0.key)):\(Self.quoted($0.value))" }.joined(separator: ",") + "}"
        }
        return s + "}\n"
    }

    /// `s` as a JSON string.
    static func quoted(_ s: String) -> String { QuotedString.quoted(s) }
}
