import Foundation
import Synchronization

/// Who may see the dashboard: `garagetytus dashboard` (root or the daemon's user, through the
/// control socket) gets a one-time token in a URL; the page that redeems it sets a session cookie
/// for the refreshes that follow. Anything else is answered 401.
public final class DashboardAccess: Sendable {
    private struct State {
        var tokens: [String: Date] = [:]
        var sessions: [String: Date] = [:]
    }
    private let state = Mutex(State())
    let now: @Sendable () -> Date
    static let tokenLife: Double = 600
    static let sessionLife: Double = 12 * 3600

    public init(now: @escaping @Sendable () -> Date = { Date() }) { self.now = now }

    /// A new token, valid once within ten minutes.
    public func issueToken() -> String {
        let token = Self.random()
        let t = now()
        state.withLock { s in
            s.tokens = s.tokens.filter { $0.value > t }
            s.tokens[token] = t.addingTimeInterval(Self.tokenLife)
        }
        return token
    }

    /// A session for a token that is known, unused and not expired; the token is used up.
    func redeem(_ token: String) -> String? {
        let t = now()
        return state.withLock { s in
            guard let until = s.tokens.removeValue(forKey: token), until > t else { return nil }
            let session = Self.random()
            s.sessions = s.sessions.filter { $0.value > t }
            s.sessions[session] = t.addingTimeInterval(Self.sessionLife)
            return session
        }
    }

    func isValid(session: String) -> Bool {
        let t = now()
        return state.withLock { ($0.sessions[session] ?? .distantPast) > t }
    }

    static func random() -> String {
        var rng = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &rng)) }.joined()
    }
}

/// What `garagetytus dashboard` prints.
public struct DashboardLink: Codable, Sendable {
    public var url: String
    public var validSeconds: Int
    enum CodingKeys: String, CodingKey { case url, validSeconds = "valid_seconds" }
}
