import Crypto
import Foundation
import Hummingbird
import S3
import Synchronization

/// A request body on its way to the engine, checked while it streams: its length, its declared
/// SHA-256, or its aws-chunked framing and chunk signatures.
///
/// The engine must never store a body that failed a check. SeaweedFS refuses a body cut short of
/// its Content-Length (499) — except one cut before its first byte, which it stores as an empty
/// object. So: `prime()` reads the first bytes before the upstream request starts (a body that
/// fails before that never reaches the engine); the last piece is held back until every check
/// passed; and a failure before any byte went upstream first sends one byte, then cuts.
final class GatewayBody: AsyncSequence, @unchecked Sendable {
    // SAFETY: the mutable state is used by one task at a time: `prime()` finishes before the body
    // is handed to the upstream request (or to `collect`), which then iterates it once.
    typealias Element = ByteBuffer

    enum Mode: Sendable {
        /// Plain bytes; `sha256` is the declared hex digest, or nil for UNSIGNED-PAYLOAD.
        case plain(sha256: String?)
        /// aws-chunked: decoded (and chunk signatures checked) on the way.
        case chunked(AWSChunkedDecoder)
    }

    /// The number of payload bytes the engine is told to expect.
    let length: Int64
    private let sha256: String?
    /// The daemon-wide budget this body's decoder buffers are taken from, and what it holds of it.
    private let memory: RequestMemory?
    private var accounted = 0
    /// Raw bytes read (framing included) and the most an aws-chunked body of `length` may take.
    private var rawReceived: Int64 = 0
    private let rawLimit: Int64
    private var base: RequestBody.AsyncIterator
    private var decoder: AWSChunkedDecoder?
    private var hash = SHA256()
    private var received: Int64 = 0
    private var yielded: Int64 = 0
    private var held: ByteBuffer?
    private var ended = false
    private let failure = Mutex<GatewayRequest.Refusal?>(nil)
    /// Whether a read is under way and whether reading is over (see `close`).
    private struct Reading {
        var inFlight = false
        var closed = false
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let reading = Mutex(Reading())

    init(base: RequestBody, mode: Mode, length: Int64, memory: RequestMemory? = nil) {
        self.base = base.makeAsyncIterator()
        self.length = length
        self.memory = memory
        switch mode {
        case .plain(let sha): sha256 = sha; rawLimit = length
        case .chunked(let d): sha256 = nil; decoder = d; rawLimit = Self.chunkedRawLimit(length)
        }
    }

    deinit { memory?.release(accounted) }

    /// The framing of a real client's aws-chunked body (a header line of ~90 bytes per chunk of
    /// 8 KiB or more, the final chunk, a few trailers) costs well under 1/8 of its payload plus
    /// 64 KiB; a body that needs more is padding, refused.
    static func chunkedRawLimit(_ decoded: Int64) -> Int64 { decoded + decoded / 8 + (64 << 10) }

    /// Why the body was refused, once it was.
    var refusal: GatewayRequest.Refusal? { failure.withLock { $0 } }

    struct Iterator: AsyncIteratorProtocol {
        let body: GatewayBody
        mutating func next() async throws -> ByteBuffer? { try await body.guardedNext() }
    }

    /// Waits for a read under way (the upstream client's, which may outlive its failed request)
    /// and refuses every later one. After the answer, the server drains the request body itself:
    /// two readers of it at once would trap (NIO allows one iterator).
    func close() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = reading.withLock { r -> Bool in
                r.closed = true
                if r.inFlight { r.waiter = c; return false }
                return true
            }
            if now { c.resume() }
        }
    }

    private func guardedNext() async throws -> ByteBuffer? {
        guard reading.withLock({ r -> Bool in
            if r.closed { return false }
            r.inFlight = true
            return true
        }) else { throw GatewayRequest.Refusal(status: 400, code: "IncompleteBody", message: "the request was answered before its body was read") }
        defer {
            let waiter = reading.withLock { r -> CheckedContinuation<Void, Never>? in
                r.inFlight = false
                defer { r.waiter = nil }
                return r.waiter
            }
            waiter?.resume()
        }
        return try await nextPiece()
    }

    func makeAsyncIterator() -> Iterator { Iterator(body: self) }

    /// Reads until the first payload bytes are held (or the body ended and passed its checks).
    func prime() async throws {
        while held == nil && !ended {
            guard let incoming = try await readBase() else {
                ended = true
                try finish()
                return
            }
            held = try accept(incoming)
        }
    }

    /// Bytes collected in memory (small single PUTs): nothing reaches the engine before all checks pass.
    func collect() async throws -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(Int(length))
        for try await piece in self { out.writeImmutableBuffer(piece) }
        return out
    }

    private func nextPiece() async throws -> ByteBuffer? {
        if let f = refusal { throw f }
        while !ended {
            let incoming: ByteBuffer?
            do {
                incoming = try await readBase()
            } catch let r as GatewayRequest.Refusal {
                return try cut(r)
            }
            guard let incoming else {
                ended = true
                do { try finish() } catch let r as GatewayRequest.Refusal { return try cut(r) }
                break
            }
            let payload: ByteBuffer?
            do { payload = try accept(incoming) } catch let r as GatewayRequest.Refusal { return try cut(r) }
            guard let payload else { continue }
            let previous = held
            held = payload
            if let previous { return hand(previous) }
        }
        guard let last = held else { return nil }
        held = nil
        return hand(last)
    }

    private func hand(_ piece: ByteBuffer) -> ByteBuffer {
        yielded += Int64(piece.readableBytes)
        return piece
    }

    /// Fails the body; if the engine has had no byte yet, gives it one first (then the cut is a
    /// short body the engine refuses, not an empty one it would store).
    private func cut(_ r: GatewayRequest.Refusal) throws -> ByteBuffer {
        if yielded == 0, length >= 2, var h = held, let one = h.readSlice(length: 1) {
            held = nil
            yielded = 1
            return one
        }
        throw r
    }

    private func readBase() async throws -> ByteBuffer? {
        do {
            return try await base.next()
        } catch {
            throw fail("IncompleteBody", "the request body stopped before its end: \(error)")
        }
    }

    /// Decodes, counts and hashes one incoming buffer; nil when it carried no payload bytes.
    private func accept(_ incoming: ByteBuffer) throws -> ByteBuffer? {
        var payload = incoming
        if decoder != nil {
            rawReceived += Int64(incoming.readableBytes)
            guard rawReceived <= rawLimit else {
                throw fail("IncompleteBody", "the aws-chunked body is larger than \(rawLimit) bytes, more than its \(length) payload bytes need")
            }
            do {
                let out = try incoming.withUnsafeReadableBytes { try decoder!.feed($0) }
                payload = ByteBuffer(bytes: out)
            } catch let e as AWSChunkedDecoder.Failure {
                let forged = e.message.contains("signature")
                throw fail(forged ? "SignatureDoesNotMatch" : "IncompleteBody", e.message, status: forged ? 403 : 400)
            }
            let holding = decoder!.bufferedCapacity
            if let memory, holding > accounted {
                guard memory.reserve(holding - accounted) else {
                    throw fail("SlowDown", "the gateway holds as many request bytes as it may (\(memory.limit >> 20) MiB) — retry shortly", status: 503)
                }
                accounted = holding
            }
        }
        guard payload.readableBytes > 0 else { return nil }
        received += Int64(payload.readableBytes)
        guard received <= length else { throw fail("IncompleteBody", "the body is longer than its declared length (\(length) bytes)") }
        if sha256 != nil { payload.withUnsafeReadableBytes { hash.update(bufferPointer: $0) } }
        return payload
    }

    private func finish() throws {
        if let decoder {
            do { try decoder.finish() } catch { throw fail("IncompleteBody", "\(error)") }
        }
        guard received == length else {
            throw fail("IncompleteBody", "the body ended after \(received) of its \(length) declared bytes")
        }
        if let sha256 {
            guard SigV4Verifier.constantTimeEqual(SigV4.hex(hash.finalize()), sha256.lowercased()) else {
                throw fail("XAmzContentSHA256Mismatch", "the body's SHA-256 is not the x-amz-content-sha256 the request declared; nothing was stored")
            }
        }
    }

    private func fail(_ code: String, _ message: String, status: Int = 400) -> GatewayRequest.Refusal {
        let r = GatewayRequest.Refusal(status: status, code: code, message: message)
        failure.withLock { $0 = $0 ?? r }
        return r
    }
}
