import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// The engine's filer HTTP API, through the filer's Unix socket, with short-lived JWTs signed with
/// the keys of the engine's current `security.toml` (ADR 0003): directory listings with every
/// entry's attributes and `Extended` map, and the one write the engine's S3 API cannot make —
/// a directory's attributes, as `Seaweed-` tags on its entry (see `DirectoryAttributes`).
public final class FilerClient: Sendable {
    let client: HTTPClient
    /// `http+unix://<socket>`.
    let transport: String
    /// The filer's current read-signing key (it changes at every engine start), nil when unknown.
    let readKey: @Sendable () -> String?
    let writeKey: @Sendable () -> String?
    /// The current read (false) and write (true) tokens.
    private let tokens = Mutex<[Bool: (key: String, jwt: String, minted: Date)]>([:])
    /// Where SeaweedFS keeps buckets in the filer's namespace.
    static let bucketsDir = "buckets"

    /// Whether requests must carry a token (a filer without signing keys takes none).
    let signed: Bool
    /// The Host header: the socket's path is no host (Go refuses a Host with '%').
    let host: String?

    init(socket: String, client: HTTPClient, readKey: @escaping @Sendable () -> String?,
         writeKey: @escaping @Sendable () -> String? = { nil }) {
        transport = "http+unix://" + (socket.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? socket)
        self.client = client
        self.readKey = readKey
        self.writeKey = writeKey
        signed = true
        host = "localhost"
    }

    /// A cluster's filer at `host:port`; `keys`: its `security.toml`'s signing keys, if it has any.
    init(address: String, client: HTTPClient, keys: (read: String?, write: String?)) {
        transport = "http://" + address
        self.client = client
        self.readKey = { keys.read }
        self.writeKey = { keys.write }
        signed = keys.read != nil || keys.write != nil
        host = nil
    }

    /// The Host and Authorization headers of a request (`write`: one that changes an entry).
    func authorize(_ headers: inout HTTPHeaders, write: Bool = false) throws {
        if let host { headers.add(name: "Host", value: host) }
        guard signed else { return }
        guard let jwt = currentToken(write: write) else { throw Failure.noKey }
        headers.add(name: "Authorization", value: "Bearer " + jwt)
    }

    public enum Failure: Error, CustomStringConvertible {
        case noKey, status(Int), undecodable(String)
        public var description: String {
            switch self {
            case .noKey: "the filer's read key is not known (engine not started)"
            case let .status(s): "the filer answered HTTP \(s)"
            case let .undecodable(why): "the filer's listing could not be read: \(why)"
            }
        }
    }

    /// One entry of a filer listing, with only the fields the gateway reads: its path, its MD5
    /// and the `Extended` values that are user metadata or the stored ETag (raw bytes; the JSON
    /// carries them base64-encoded, and only these are decoded).
    public struct Entry: Sendable {
        public var fullPath: String
        /// The last segment of `fullPath`.
        public var name: String
        public var md5: Data?
        public var extended: [String: Data]

        public init(fullPath: String, md5: Data? = nil, extended: [String: Data] = [:]) {
            self.fullPath = fullPath
            self.name = fullPath.utf8.lastIndex(of: UInt8(ascii: "/")).map { String(fullPath[fullPath.index(after: $0)...]) } ?? fullPath
            self.md5 = md5
            self.extended = extended
        }

        /// `X-Amz-Meta-*` (any case), `Seaweed-X-Amz-ETag` and a directory's attributes.
        static func kept(_ name: String) -> Bool {
            if name == "Seaweed-X-Amz-ETag" || name.hasPrefix(DirectoryAttributes.tagPrefix) { return true }
            var u = name.utf8.makeIterator()
            for want in "x-amz-meta-".utf8 {
                guard let b = u.next(), (b >= 0x41 && b <= 0x5A ? b | 0x20 : b) == want else { return false }
            }
            return u.next() != nil
        }
    }

    public struct Page: Sendable {
        public var Entries: [Entry]?
        public var ShouldDisplayLoadMore: Bool?
    }

    /// Up to `limit` entries of directory `bucket/dir` (no leading or trailing `/`; "" is the
    /// bucket's root) whose names sort after the bytes `after`, in name order.
    public func list(bucket: String, dir: String, after: [UInt8], limit: Int) async throws -> Page {
        let path = Self.path(bucket: bucket, dir: dir)
        var request = HTTPClientRequest(url: transport + "/" + path + "/?limit=\(limit)&lastFileName=" + Self.encode(bytes: after))
        try authorize(&request.headers)
        request.headers.add(name: "Accept", value: "application/json")  // exactly: anything else gets HTML
        let response = try await client.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 64 << 20)
        if response.status == .notFound { return Page(Entries: [], ShouldDisplayLoadMore: false) }
        guard response.status == .ok else { throw Failure.status(Int(response.status.code)) }
        do {
            return try FilerListingJSON.page(Array(buffer: body))
        } catch {
            throw Failure.undecodable("\(error)".prefix(200).description)
        }
    }

    /// `buckets/<bucket>/<dir>`, each segment percent-encoded.
    static func path(bucket: String, dir: String) -> String {
        ([Self.bucketsDir, bucket] + (dir.isEmpty ? [] : dir.split(separator: "/", omittingEmptySubsequences: false).map(String.init)))
            .map(Self.encode).joined(separator: "/")
    }

    /// The entry `name` of directory `bucket/dir`, nil when there is none.
    public func entry(bucket: String, dir: String, name: String) async throws -> Entry? {
        let page = try await list(bucket: bucket, dir: dir, after: ListingMetadata.before(name), limit: 1)
        return page.Entries?.first.flatMap { ListingMetadata.Exact($0.name) == ListingMetadata.Exact(name) ? $0 : nil }
    }

    /// Sets the `Seaweed-` tags `set` (names without the prefix) of an entry and removes those
    /// named in `remove` (the filer's `?tagging`; a directory's attributes).
    public func tag(bucket: String, path entryPath: String, set: [(String, String)], remove: [String]) async throws {
        var auth = HTTPHeaders()
        try authorize(&auth, write: true)
        let url = transport + "/" + Self.path(bucket: bucket, dir: entryPath)
        func send(_ method: HTTPMethod, _ query: String, _ headers: [(String, String)]) async throws {
            var request = HTTPClientRequest(url: url + "?" + query)
            request.method = method
            request.headers.add(contentsOf: auth)
            for (n, v) in headers { request.headers.add(name: "Seaweed-" + n, value: v) }
            let response = try await client.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 1 << 20)
            // 304: nothing was there to remove.
            guard (200..<300).contains(Int(response.status.code)) || response.status == .notModified else { throw Failure.status(Int(response.status.code)) }
        }
        if !set.isEmpty { try await send(.PUT, "tagging", set) }
        if !remove.isEmpty { try await send(.DELETE, "tagging=" + Self.encode(remove.joined(separator: ",")), []) }
    }

    /// A token valid for a minute, minted again after half of that or when the key changed.
    func currentToken(now: Date = Date(), write: Bool = false) -> String? {
        guard let key = write ? writeKey() : readKey() else { return nil }
        return tokens.withLock { all in
            if let t = all[write], t.key == key, now.timeIntervalSince(t.minted) < 30 { return t.jwt }
            let jwt = Self.jwt(key: key, expires: now.addingTimeInterval(60))
            all[write] = (key, jwt, now)
            return jwt
        }
    }

    /// An HS256 JSON Web Token with only an expiry, as SeaweedFS's `GenJwtForFilerServer` makes.
    static func jwt(key: String, expires: Date) -> String {
        func b64url(_ d: Data) -> String {
            d.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        let head = b64url(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let claims = b64url(Data(#"{"exp":\#(Int(expires.timeIntervalSince1970))}"#.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data((head + "." + claims).utf8), using: SymmetricKey(data: Data(key.utf8)))
        return head + "." + claims + "." + b64url(Data(mac))
    }

    static func encode(_ segment: String) -> String { encode(bytes: Array(segment.utf8)) }

    /// Percent-encoding of raw bytes (names need not be valid UTF-8 here: see `ListingMetadata.before`).
    static func encode(bytes: [UInt8]) -> String {
        var out = ""
        for b in bytes {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }
}
