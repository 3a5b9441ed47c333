import CCurl
import CCurlShim
import Foundation
import Synchronization

/// One HTTP request for `CurlHTTP`.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: Data?
    /// Talk HTTP over this Unix domain socket instead of TCP (the URL's host is then only a name).
    public var unixSocket: String?
    /// For `https://`: the CA certificates (PEM) to trust instead of the system's.
    public var caFile: String?
    /// Whole-request timeout in seconds.
    public var timeout: Double
    /// Where a successful (2xx) response body goes instead of `HTTPResponse.body`, if anywhere.
    public var sink: ResponseSink?
    /// Where a successful (2xx) response body goes as it arrives, piece by piece, for a response
    /// that does not end (a stream of lines); returning false ends the transfer.
    public var stream: (@Sendable (UnsafeRawBufferPointer) -> Bool)?
    /// With `stream`: the transfer fails when less than a byte a second came for this long (0: never).
    public var stallSeconds = 0

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
        headers.last { ASCII.equalsIgnoringCase($0.0, name) }?.1
    }

    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// Caller-owned memory that receives a successful response body (a read-ahead chunk reused from
/// one GET to the next, so its pages are not faulted in and zeroed again for every 8 MiB).
/// Used by one transfer at a time.
public final class ResponseSink: @unchecked Sendable {
    // SAFETY: `buffer` belongs to the caller for the whole transfer; `count` is written only by
    // the transfer's callbacks (one thread) and read after it.
    public let buffer: UnsafeMutableRawBufferPointer
    public internal(set) var count = 0
    public init(_ buffer: UnsafeMutableRawBufferPointer) { self.buffer = buffer }
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
    /// Failures after which repeating an idempotent request may succeed.
    public var isTransient: Bool {
        [CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT, CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING,
         CURLE_PARTIAL_FILE, CURLE_SEND_FAIL_REWIND].map { Int($0.rawValue) }.contains(code)
    }
}

/// Blocking HTTP/1.1 requests through libcurl. Call from a thread that may block (not the
/// cooperative pool); `perform(async:)` moves the call to such a thread.
public enum CurlHTTP {
    private static let globalInit: Bool = {
        curl_global_init(Int(CURL_GLOBAL_ALL)) == CURLE_OK
    }()

    /// A fresh easy handle (libcurl initialised once per process).
    static func makeHandle() -> UnsafeMutableRawPointer? {
        _ = globalInit
        return curl_easy_init()
    }

    /// One request on a throw-away handle.
    public static func perform(_ request: HTTPRequest) throws -> HTTPResponse {
        guard let h = makeHandle() else {
            throw HTTPTransportError(code: -1, message: "curl_easy_init failed", url: request.url)
        }
        defer { curl_easy_cleanup(h) }
        return try perform(request, on: h)
    }

    /// Runs `perform` on a thread that may block, for callers in async code.
    public static func perform(async request: HTTPRequest) async throws -> HTTPResponse {
        try await offloaded { try perform(request) }
    }

    /// Holds the request body being sent and the response being received during one transfer.
    private final class Transfer {
        let upload: Data
        var uploadOffset = 0
        var body = Data()
        var headerLines: [String] = []
        let sink: ResponseSink?
        var stream: (@Sendable (UnsafeRawBufferPointer) -> Bool)?
        /// The status line of the response being received says 2xx (its body may go to `sink`).
        var success = false
        init(upload: Data, sink: ResponseSink?) {
            self.upload = upload
            self.sink = sink
            sink?.count = 0  // a retry starts over
        }
    }

    /// One request on `h` (reset first; live connections in its cache are kept for keep-alive).
    static func perform(_ request: HTTPRequest, on h: UnsafeMutableRawPointer) throws -> HTTPResponse {
        curl_easy_reset(h)
        let transfer = Transfer(upload: request.body ?? Data(), sink: request.sink)
        transfer.stream = request.stream
        // SAFETY: `transfer` is retained until after curl_easy_perform returns (the defer below);
        // curl hands the pointer only to our callbacks, and only during the transfer.
        let opaque = Unmanaged.passRetained(transfer)
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
        _ = ccurl_setopt_long(h, CURLOPT_TIMEOUT_MS, request.stream == nil ? Int(request.timeout * 1000) : 0)
        if request.stallSeconds > 0 {
            _ = ccurl_setopt_long(h, CURLOPT_LOW_SPEED_LIMIT, 1)
            _ = ccurl_setopt_long(h, CURLOPT_LOW_SPEED_TIME, request.stallSeconds)
        }
        _ = ccurl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(min(request.timeout, 5) * 1000))
        _ = ccurl_setopt_long(h, CURLOPT_TCP_NODELAY, 1)
        // Big reads from the socket: the 16 KiB default means 512 callbacks per 8 MiB chunk.
        _ = ccurl_setopt_long(h, CURLOPT_BUFFERSIZE, 256 << 10)
        _ = ccurl_setopt_long(h, CURLOPT_UPLOAD_BUFFERSIZE, 256 << 10)
        _ = ccurl_setopt_ptr(h, CURLOPT_HTTPHEADER, headerList)
        if let socket = request.unixSocket {
            _ = ccurl_setopt_ptr(h, CURLOPT_UNIX_SOCKET_PATH, socket)
        }
        if let ca = request.caFile {
            _ = ccurl_setopt_ptr(h, CURLOPT_CAINFO, ca)
        }
        if request.method == "HEAD" {
            _ = ccurl_setopt_long(h, CURLOPT_NOBODY, 1)
        } else if request.method != "GET" {
            _ = ccurl_setopt_ptr(h, CURLOPT_CUSTOMREQUEST, request.method)
        }
        if request.body != nil {
            // Streamed from the Data without a copy; the method stays what CUSTOMREQUEST says.
            _ = ccurl_setopt_long(h, CURLOPT_UPLOAD, 1)
            _ = ccurl_setopt_off(h, CURLOPT_INFILESIZE_LARGE, curl_off_t(transfer.upload.count))
            _ = ccurl_setopt_ptr(h, CURLOPT_READDATA, opaque.toOpaque())
            // curl rewinds the body when it resends on a new connection (a kept-alive one was reset).
            _ = ccurl_setopt_ptr(h, CURLOPT_SEEKDATA, opaque.toOpaque())
            _ = ccurl_setopt_seek(h) { user, offset, origin in
                // SAFETY: `user` is the retained Transfer, as for the read callback.
                let t = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
                guard origin == SEEK_SET, offset >= 0, offset <= t.upload.count else { return Int32(CURL_SEEKFUNC_CANTSEEK) }
                t.uploadOffset = Int(offset)
                return Int32(CURL_SEEKFUNC_OK)
            }
            _ = ccurl_setopt_read(h) { buffer, size, count, user in
                // SAFETY: `user` is the retained Transfer; `buffer` holds size*count writable bytes.
                let t = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
                let n = min(size * count, t.upload.count - t.uploadOffset)
                if n > 0, let buffer {
                    t.upload.withUnsafeBytes { raw in
                        UnsafeMutableRawPointer(buffer).copyMemory(from: raw.baseAddress! + t.uploadOffset, byteCount: n)
                    }
                    t.uploadOffset += n
                }
                return n
            }
        }
        _ = ccurl_setopt_ptr(h, CURLOPT_WRITEDATA, opaque.toOpaque())
        _ = ccurl_setopt_write(h) { ptr, size, count, user in
            // SAFETY: `user` is the retained Transfer passed through CURLOPT_WRITEDATA above.
            let t = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
            let n = size * count
            guard let ptr else { return n }
            if t.success, let stream = t.stream {
                return stream(UnsafeRawBufferPointer(start: ptr, count: n)) ? n : 0
            }
            if t.success, let sink = t.sink {
                guard n <= sink.buffer.count - sink.count else { return 0 }  // more than asked for: curl fails the transfer
                // SAFETY: checked above that n bytes fit after the `count` already written.
                (sink.buffer.baseAddress! + sink.count).copyMemory(from: ptr, byteCount: n)
                sink.count += n
            } else {
                t.body.append(UnsafeRawPointer(ptr).assumingMemoryBound(to: UInt8.self), count: n)
            }
            return n
        }
        _ = ccurl_setopt_ptr(h, CURLOPT_HEADERDATA, opaque.toOpaque())
        _ = ccurl_setopt_header(h) { ptr, size, count, user in
            // SAFETY: as for the write callback; the header bytes are copied into a String.
            let t = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
            let n = size * count
            if let ptr {
                let line = String(decoding: UnsafeRawBufferPointer(start: ptr, count: n), as: UTF8.self)
                if line.hasPrefix("HTTP/") { t.success = line.split(separator: " ").dropFirst().first?.hasPrefix("2") ?? false }
                // Room for the whole body at once (a growing buffer would copy a big GET several times).
                if line.utf8.count < 40, line.lowercased().hasPrefix("content-length:"),
                   let length = Int(ASCII.trim(line.dropFirst(15))), length > 0 {
                    t.body.reserveCapacity(min(length, 64 << 20))
                }
                t.headerLines.append(line)
            }
            return n
        }
        let rc = curl_easy_perform(h)
        guard rc == CURLE_OK else {
            throw HTTPTransportError(code: Int(rc.rawValue), message: String(cString: curl_easy_strerror(rc)), url: request.url)
        }
        var status = 0
        _ = ccurl_getinfo_long(h, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: parseHeaders(transfer.headerLines), body: transfer.body)
    }

    /// Header lines of the last response (after redirects or 100-continue, only the final block).
    static func parseHeaders(_ lines: [String]) -> [(String, String)] {
        var out: [(String, String)] = []
        for line in lines {
            if line.hasPrefix("HTTP/") { out.removeAll(); continue }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = ASCII.trim(line[..<colon])
            let value = ASCII.trim(line[line.index(after: colon)...])
            out.append((name, value))
        }
        return out
    }
}

/// A pool of curl easy handles: each keeps its connections alive between requests.
public final class CurlPool: Sendable {
    // SAFETY: UnsafeMutableRawPointer handles are only used by one thread at a time: taken out of the pool
    // under the lock, used, and put back.
    private let idle = Mutex<[UnsafeSendableHandle]>([])
    private let maxIdle: Int

    struct UnsafeSendableHandle: @unchecked Sendable { let h: UnsafeMutableRawPointer }

    public init(maxIdle: Int = 16) { self.maxIdle = maxIdle }

    deinit {
        for x in idle.withLock({ $0 }) { curl_easy_cleanup(x.h) }
    }

    public func perform(_ request: HTTPRequest) throws -> HTTPResponse {
        guard let h = idle.withLock({ $0.popLast()?.h }) ?? CurlHTTP.makeHandle() else {
            throw HTTPTransportError(code: -1, message: "curl_easy_init failed", url: request.url)
        }
        do {
            let r = try CurlHTTP.perform(request, on: h)
            giveBack(h)
            return r
        } catch {
            // A handle whose transfer failed may hold a broken connection: do not reuse it.
            curl_easy_cleanup(h)
            throw error
        }
    }

    private func giveBack(_ h: UnsafeMutableRawPointer) {
        let kept = idle.withLock { handles -> Bool in
            guard handles.count < maxIdle else { return false }
            handles.append(UnsafeSendableHandle(h: h))
            return true
        }
        if !kept { curl_easy_cleanup(h) }
    }
}

/// Runs blocking work (a curl transfer) on a Dispatch thread so async callers never block the
/// cooperative pool.
public func offloaded<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { cont in
        DispatchQueue.global().async { cont.resume(with: Result { try work() }) }
    }
}
