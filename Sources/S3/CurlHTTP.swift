import CCurl
import CCurlShim
import Foundation

/// One HTTP request for `CurlHTTP`.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: Data?
    /// Talk HTTP over this Unix domain socket instead of TCP (the URL's host is then only a name).
    public var unixSocket: String?
    /// Whole-request timeout in seconds.
    public var timeout: Double

    public init(method: String = "GET", url: String, headers: [(String, String)] = [], body: Data? = nil,
                unixSocket: String? = nil, timeout: Double = 10) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.unixSocket = unixSocket
        self.timeout = timeout
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: Data

    public func header(_ name: String) -> String? {
        headers.last { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
    }

    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A transport failure: nothing usable came back.
public struct HTTPTransportError: Error, CustomStringConvertible, Sendable {
    public var code: Int
    public var message: String
    public var url: String
    public var description: String { "\(url): \(message)" }
    /// Connection refused / no such socket: nobody listens there.
    public var isConnectionRefused: Bool { code == Int(CURLE_COULDNT_CONNECT.rawValue) }
    public var isTimeout: Bool { code == Int(CURLE_OPERATION_TIMEDOUT.rawValue) }
}

/// Blocking HTTP/1.1 requests through libcurl. Call from a thread that may block (not the
/// cooperative pool); `perform(async:)` moves the call to such a thread.
public enum CurlHTTP {
    private static let globalInit: Bool = {
        curl_global_init(Int(CURL_GLOBAL_ALL)) == CURLE_OK
    }()

    /// Accumulates body bytes and header lines written by curl's callbacks.
    private final class Sink {
        var body = Data()
        var headerLines: [String] = []
    }

    public static func perform(_ request: HTTPRequest) throws -> HTTPResponse {
        _ = globalInit
        guard let h = curl_easy_init() else {
            throw HTTPTransportError(code: -1, message: "curl_easy_init failed", url: request.url)
        }
        defer { curl_easy_cleanup(h) }
        let sink = Sink()
        // SAFETY: `sink` outlives the transfer (released after curl_easy_perform returns, below);
        // curl only hands the pointer back to our callbacks during the transfer.
        let opaque = Unmanaged.passRetained(sink)
        defer { opaque.release() }

        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        for (name, value) in request.headers {
            headerList = curl_slist_append(headerList, "\(name): \(value)")
        }
        // curl adds `Expect: 100-continue` to larger bodies; the peers here answer at once.
        headerList = curl_slist_append(headerList, "Expect:")

        _ = ccurl_setopt_ptr(h, CURLOPT_URL, request.url)
        _ = ccurl_setopt_long(h, CURLOPT_NOSIGNAL, 1)
        _ = ccurl_setopt_long(h, CURLOPT_TIMEOUT_MS, Int(request.timeout * 1000))
        _ = ccurl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(min(request.timeout, 5) * 1000))
        _ = ccurl_setopt_ptr(h, CURLOPT_HTTPHEADER, headerList)
        if let socket = request.unixSocket {
            _ = ccurl_setopt_ptr(h, CURLOPT_UNIX_SOCKET_PATH, socket)
        }
        switch request.method {
        case "GET": break
        case "HEAD": _ = ccurl_setopt_long(h, CURLOPT_NOBODY, 1)
        default: _ = ccurl_setopt_ptr(h, CURLOPT_CUSTOMREQUEST, request.method)
        }
        if let body = request.body {
            _ = ccurl_setopt_off(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            // COPYPOSTFIELDS copies the bytes, so `body` need not outlive this call.
            body.withUnsafeBytes { raw in
                _ = ccurl_setopt_ptr(h, CURLOPT_COPYPOSTFIELDS, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1))
            }
        }
        _ = ccurl_setopt_ptr(h, CURLOPT_WRITEDATA, opaque.toOpaque())
        _ = ccurl_setopt_write(h) { ptr, size, count, user in
            // SAFETY: `user` is the retained Sink passed through CURLOPT_WRITEDATA above.
            let sink = Unmanaged<Sink>.fromOpaque(user!).takeUnretainedValue()
            let n = size * count
            if let ptr { sink.body.append(UnsafeRawPointer(ptr).assumingMemoryBound(to: UInt8.self), count: n) }
            return n
        }
        _ = ccurl_setopt_ptr(h, CURLOPT_HEADERDATA, opaque.toOpaque())
        _ = ccurl_setopt_header(h) { ptr, size, count, user in
            // SAFETY: as for the write callback; the header bytes are copied into a String.
            let sink = Unmanaged<Sink>.fromOpaque(user!).takeUnretainedValue()
            let n = size * count
            if let ptr {
                let buf = UnsafeRawBufferPointer(start: ptr, count: n)
                sink.headerLines.append(String(decoding: buf, as: UTF8.self))
            }
            return n
        }
        let rc = curl_easy_perform(h)
        guard rc == CURLE_OK else {
            throw HTTPTransportError(code: Int(rc.rawValue), message: String(cString: curl_easy_strerror(rc)), url: request.url)
        }
        var status = 0
        _ = ccurl_getinfo_long(h, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: parseHeaders(sink.headerLines), body: sink.body)
    }

    /// Runs `perform` on a thread that may block, for callers in async code.
    public static func perform(async request: HTTPRequest) async throws -> HTTPResponse {
        try await withCheckedThrowingContinuation { cont in
            DispatchQueue.global().async {
                cont.resume(with: Result { try perform(request) })
            }
        }
    }

    /// Header lines of the last response (after redirects or 100-continue, only the final block).
    static func parseHeaders(_ lines: [String]) -> [(String, String)] {
        var out: [(String, String)] = []
        for line in lines {
            if line.hasPrefix("HTTP/") { out.removeAll(); continue }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
            let value = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespacesAndNewlines)
            out.append((name, value))
        }
        return out
    }
}
