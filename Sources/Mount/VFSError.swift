#if canImport(Glibc)
import Glibc
#endif

/// The filesystem's error: a closed code, a message and a cause. The errno a FUSE request gets is
/// decided here and nowhere else (the FUSE adapter replies `-error.errno`).
public struct VFSError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public static let notFound = Code(name: "not-found")
        public static let exists = Code(name: "exists")
        public static let notEmpty = Code(name: "not-empty")
        public static let notDirectory = Code(name: "not-a-directory")
        public static let isDirectory = Code(name: "is-a-directory")
        public static let readOnly = Code(name: "read-only")
        public static let stale = Code(name: "stale")
        public static let unsupported = Code(name: "unsupported")
        public static let accessDenied = Code(name: "access-denied")
        public static let invalid = Code(name: "invalid")
        public static let nameTooLong = Code(name: "name-too-long")
        public static let noSpace = Code(name: "no-space")
        /// A size past what one object holds.
        public static let fileTooLarge = Code(name: "file-too-large")
        /// An extended attribute that is not there.
        public static let noAttribute = Code(name: "no-attribute")
        /// A caller's buffer too small for the answer.
        public static let range = Code(name: "range")
        public static let io = Code(name: "io")
        public var description: String { name }
    }

    public var code: Code
    public var message: String
    public var cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        cause.map { "\(message): \($0)" } ?? message
    }

    /// The errno for this error. Anything without a better answer is EIO: a failure is never
    /// reported as success.
    public var errno: Int32 {
        switch code {
        case .notFound: return ENOENT
        case .exists: return EEXIST
        case .notEmpty: return ENOTEMPTY
        case .notDirectory: return ENOTDIR
        case .isDirectory: return EISDIR
        case .readOnly: return EROFS
        case .stale: return ESTALE
        case .unsupported: return ENOTSUP
        case .accessDenied: return EACCES
        case .invalid: return EINVAL
        case .nameTooLong: return ENAMETOOLONG
        case .noSpace: return ENOSPC
        case .fileTooLarge: return EFBIG
        case .noAttribute: return ENODATA
        case .range: return ERANGE
        default: return EIO
        }
    }
}
