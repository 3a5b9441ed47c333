import Foundation
import S3

/// A grant as the front door sees it: one bucket, some permissions, an expiry, a state.
public struct GrantView: Sendable, Equatable {
    public enum State: String, Sendable { case active, revoking, revoked }
    public var id: String
    public var bucket: String
    public var permissions: Set<S3Operation.Permission>
    public var expiresAt: Date
    public var state: State

    public init(id: String, bucket: String, permissions: Set<S3Operation.Permission>, expiresAt: Date, state: State = .active) {
        self.id = id
        self.bucket = bucket
        self.permissions = permissions
        self.expiresAt = expiresAt
        self.state = state
    }
}

/// A bucket's state for decisions: expiry and deny-all.
public struct BucketView: Sendable, Equatable {
    public var name: String
    public var expiresAt: Date?
    public var denyAllUntil: Date?

    public init(name: String, expiresAt: Date? = nil, denyAllUntil: Date? = nil) {
        self.name = name
        self.expiresAt = expiresAt
        self.denyAllUntil = denyAllUntil
    }
}

/// Who signed the request: a grant, or the daemon's administrator key (buckets, no grant limits).
public enum Caller: Sendable, Equatable {
    case grant(GrantView)
    case admin
}

/// The front door's decision: pure (clock, grant, bucket and mode are given), so every promise of
/// issue 5 is a unit test. A refusal carries the S3 error and a message a person can act on.
public enum Policy {
    public enum Decision: Sendable, Equatable {
        case allow
        case deny(status: Int, code: String, message: String)
    }

    public static func decide(_ op: S3Operation, caller: Caller, bucket: BucketView?, readOnly: (Bool, freePct: Double?),
                              now: Date) -> Decision {
        func deny(_ message: String, code: String = "AccessDenied", status: Int = 403) -> Decision {
            .deny(status: status, code: code, message: message)
        }
        if op.kind == .unsupported {
            return deny("this S3 operation is not supported by garagetytus", code: "NotImplemented", status: 501)
        }
        if readOnly.0 && op.writes {
            let pct = readOnly.freePct.map { String(format: "%.1f", $0) } ?? "?"
            return deny("\(S3Error.daemonReadOnlyPrefix): disk free \(pct) % — free space under the data directory; writes resume by themselves",
                        code: "ServiceUnavailable", status: 503)
        }
        if let b = bucket, op.bucket == b.name {
            if let until = b.denyAllUntil, until > now {
                return deny("bucket \(b.name) is under deny-all until \(stamp(until)) — lift it with: garagetytus bucket allow \(b.name)")
            }
            if let exp = b.expiresAt, exp <= now {
                return deny("bucket \(b.name) expired at \(stamp(exp))")
            }
        }
        guard case .grant(let g) = caller else { return .allow }
        switch g.state {
        case .revoking, .revoked: return deny("grant \(g.id) was revoked")
        case .active: break
        }
        if g.expiresAt <= now { return deny("grant \(g.id) expired at \(stamp(g.expiresAt))") }
        if op.kind == .listBuckets { return .allow }  // the answer is cut down to the grant's bucket
        // Tools that "make sure the bucket exists" before writing (rclone) get a no-op for their own bucket.
        if op.kind == .createBucket && op.bucket == g.bucket && g.permissions.contains(.write) { return .allow }
        guard let need = op.permission else {
            return deny("grant \(g.id) cannot \(op.kind == .createBucket ? "create" : "delete") buckets — use garagetytus bucket")
        }
        guard op.bucket == g.bucket else { return deny("grant \(g.id) is for bucket \(g.bucket), not \(op.bucket ?? "-")") }
        if let src = op.copySource, !src.hasPrefix(g.bucket + "/") {
            return deny("grant \(g.id) can copy only within bucket \(g.bucket)")
        }
        if let src = op.renameSource {
            // A rename writes the target and removes the source: both within the grant's bucket.
            guard src.hasPrefix(g.bucket + "/") else { return deny("grant \(g.id) can rename only within bucket \(g.bucket)") }
            guard g.permissions.contains(.delete) else { return deny("grant \(g.id) does not allow delete (needed to rename \(src))") }
        }
        if op.copySource != nil && !g.permissions.contains(.read) {
            return deny("grant \(g.id) does not allow read (needed to copy from \(op.copySource ?? ""))")
        }
        guard g.permissions.contains(need) else {
            let has = g.permissions.sorted().map(\.rawValue).joined(separator: ",")
            return deny("grant \(g.id) does not allow \(need.rawValue) (it has \(has.isEmpty ? "nothing" : has))")
        }
        return .allow
    }

    static func stamp(_ d: Date) -> String { UTCTime.iso8601Seconds(d) }
}
