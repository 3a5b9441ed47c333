/// A failed S3 call: what kind of failure, the HTTP status and S3 error code if any, and a message
/// a person can act on. Callers map `kind` to their own terms (the mount to errno) in one place.
public struct S3Error: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case notFound            // 404 NoSuchKey / NoSuchBucket / NoSuchUpload
        case accessDenied        // 403
        case preconditionFailed  // 412, or 409 on a conditional write
        case invalidRequest      // other 4xx
        case throttled           // 503 SlowDown
        case server              // other 5xx
        case transport           // no usable answer (refused, reset, timeout)
        case invalidResponse     // an answer we cannot read
    }

    public var kind: Kind
    public var status: Int?
    public var code: String?
    public var message: String
    public var operation: String

    public var description: String {
        var s = "\(operation): "
        if let status { s += "HTTP \(status) " }
        if let code { s += "\(code) " }
        return s + message
    }

    /// Whether repeating the same idempotent request may succeed.
    public var isRetryable: Bool {
        // A daemon short of disk stays read-only far longer than a retry waits.
        if isDaemonReadOnly { return false }
        switch kind {
        case .throttled, .server, .transport: return true
        default: return false
        }
    }

    /// Classifies an HTTP error answer from its status and S3 XML body.
    /// How the garagetytus gateway's refusal of a write in read-only mode (disk low) begins: a
    /// mount turns it into EROFS.
    public static let daemonReadOnlyPrefix = "daemon is read-only"

    public var isDaemonReadOnly: Bool { status == 503 && message.hasPrefix(Self.daemonReadOnlyPrefix) }

    static func from(status: Int, body: XMLNode?, operation: String) -> S3Error {
        from(status: status, code: body?.string("Code"), message: body?.string("Message"), operation: operation)
    }

    /// From the error's code and message (of an XML body, or of headers for HEAD).
    static func from(status: Int, code: String?, message: String?, operation: String) -> S3Error {
        let message = message ?? "no error message"
        let kind: Kind
        switch status {
        case 404: kind = .notFound
        case 403: kind = .accessDenied
        case 412: kind = .preconditionFailed
        case 503 where code == "SlowDown" || code == nil: kind = .throttled
        case 500...599: kind = .server
        default: kind = .invalidRequest
        }
        return S3Error(kind: kind, status: status, code: code, message: message, operation: operation)
    }
}
