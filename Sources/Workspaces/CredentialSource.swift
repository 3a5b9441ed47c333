import Foundation
import S3
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The credentials a live mount signs with. When they came from a file (a workspace's cache, a
/// grant), the file is followed: a rotation rewrites it atomically and the next request signs with
/// the new key, without a remount and without failing a request in flight (it keeps the key it was
/// signed with). The file's change time is looked at most once a second.
///
/// With `switchOnRejection` (keys of your own S3 service) the mount keeps the keys it has while
/// they work, and takes the file's new ones the first time the endpoint refuses the old ones.
public final class CredentialSource: Sendable {
    struct State {
        var credentials: S3Credentials
        var changeTime: timespec?
        var checkedAt: Double = 0
    }

    public let file: String?
    public let switchOnRejection: Bool
    public let onChange: @Sendable (S3Credentials, Date?) -> Void
    private let state: Mutex<State>

    public init(initial: S3Credentials, expiry: Date?, file: String?, switchOnRejection: Bool = false, onChange: @escaping @Sendable (S3Credentials, Date?) -> Void) {
        self.file = file
        self.switchOnRejection = switchOnRejection
        self.onChange = onChange
        state = Mutex(State(credentials: initial, changeTime: file.flatMap(Self.changeTime)))
    }

    /// The endpoint refused the current credentials: take the file's, if they differ.
    public func rejected() -> Bool {
        guard let file, let (fresh, expiry) = try? MountSpec.loadCredentials(file: file) else { return false }
        let changed = state.withLock { s -> Bool in
            guard s.credentials != fresh else { return false }
            s.credentials = fresh
            s.changeTime = Self.changeTime(file)
            return true
        }
        if changed { onChange(fresh, expiry) }
        return changed
    }

    public func current() -> S3Credentials {
        guard let file, !switchOnRejection else { return state.withLock { $0.credentials } }
        let now = Date().timeIntervalSince1970
        let due = state.withLock { s -> timespec?? in
            guard now - s.checkedAt >= 1 else { return .none }
            s.checkedAt = now
            return .some(s.changeTime)
        }
        if case .some(let known) = due, let seen = Self.changeTime(file), known.map({ $0.tv_sec != seen.tv_sec || $0.tv_nsec != seen.tv_nsec }) ?? true {
            // A file that cannot be read (being replaced, or broken) keeps the previous credentials.
            if let (fresh, expiry) = try? MountSpec.loadCredentials(file: file) {
                state.withLock { $0.credentials = fresh; $0.changeTime = seen }
                onChange(fresh, expiry)
            }
        }
        return state.withLock { $0.credentials }
    }

    public static func changeTime(_ path: String) -> timespec? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return st.st_ctim
    }
}
