/// The daemon's and CLI's error: a closed code, what went wrong, and what to do about it.
///
/// The exit code for each code is decided here and nowhere else.
public struct DaemonError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// Bad flags, values or environment.
        public static let usage = Code(name: "usage")
        /// A file we own is unreadable, corrupt, or from a newer version.
        public static let corrupt = Code(name: "corrupt")
        /// The environment stops us: a port in use, a missing program, an unwritable directory.
        public static let environment = Code(name: "environment")
        /// Another daemon already runs on this home.
        public static let alreadyRunning = Code(name: "already-running")
        /// The daemon is not running (or not answering) where the command needs it.
        public static let notRunning = Code(name: "not-running")
        /// Something failed while running.
        public static let failed = Code(name: "failed")
        public var description: String { name }
        /// The code with this name (as sent over the control API); unknown names are `failed`.
        public static func named(_ name: String) -> Code {
            [usage, corrupt, environment, alreadyRunning, notRunning, failed].first { $0.name == name } ?? failed
        }
    }

    public var code: Code
    public var message: String
    public var fix: String?

    public init(_ code: Code, _ message: String, fix: String? = nil) {
        self.code = code
        self.message = message
        self.fix = fix
    }

    /// `<what> — <what to do>`, one line.
    public var description: String {
        if let fix { return "\(message) — \(fix)" }
        return message
    }

    /// The process exit code for this error (sysexits-style).
    public var exitCode: Int32 {
        switch code {
        case .usage: return 64          // EX_USAGE
        case .corrupt: return 65        // EX_DATAERR
        case .environment: return 69    // EX_UNAVAILABLE
        case .alreadyRunning: return 75 // EX_TEMPFAIL
        case .notRunning: return 3
        default: return 1
        }
    }
}
