import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// The engine's answer to a bodyless request (GET, HEAD), read ahead into a bounded buffer.
///
/// AsyncHTTPClient's async response body hands over one network read at a time and reads the next
/// only when asked (watermarks 1/1): relaying 512 MiB that way costs two thread hand-offs per
/// 64 KiB. This delegate keeps reading until `limit` bytes wait in the buffer and only then holds
/// the connection back, so reading the engine and writing the client overlap.
final class ResponseStream: HTTPClientResponseDelegate, AsyncSequence, @unchecked Sendable {
    // SAFETY: all mutable state is in `state` (a Mutex); `task` is set once, right after execute.
    typealias Response = Void
    typealias Element = ByteBuffer

    struct State {
        var chunks: [ByteBuffer] = []
        var first = 0
        var buffered = 0
        var finished = false
        var failure: Error?
        var reader: CheckedContinuation<ByteBuffer?, Error>?
        var paused: EventLoopPromise<Void>?
        var head: CheckedContinuation<HTTPResponseHead, Error>?
        var gotHead: HTTPResponseHead?
        var task: HTTPClient.Task<Void>?
    }

    let limit: Int
    private let state = Mutex(State())

    init(limit: Int = 4 << 20) { self.limit = limit }

    /// Waits for the engine's status and headers.
    func head() async throws -> HTTPResponseHead {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<HTTPResponseHead, Error>) in
            let ready: Result<HTTPResponseHead, Error>? = state.withLock { s in
                if let h = s.gotHead { return .success(h) }
                if let f = s.failure { return .failure(f) }
                s.head = c
                return nil
            }
            if let ready { c.resume(with: ready) }
        }
    }

    func attach(_ task: HTTPClient.Task<Void>) { state.withLock { $0.task = task } }

    /// The client went away: stop reading from the engine.
    func cancel() {
        let (task, paused) = state.withLock { s -> (HTTPClient.Task<Void>?, EventLoopPromise<Void>?) in
            s.finished = true
            s.chunks = []
            defer { s.paused = nil }
            return (s.task, s.paused)
        }
        paused?.fail(CancellationError())
        task?.cancel()
    }

    // MARK: delegate (on the connection's event loop)

    func didReceiveHead(task: HTTPClient.Task<Void>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        let waiter = state.withLock { s -> CheckedContinuation<HTTPResponseHead, Error>? in
            s.gotHead = head
            defer { s.head = nil }
            return s.head
        }
        waiter?.resume(returning: head)
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        let action = state.withLock { s -> (CheckedContinuation<ByteBuffer?, Error>?, EventLoopPromise<Void>?) in
            if let r = s.reader {
                s.reader = nil
                return (r, nil)
            }
            guard !s.finished else { return (nil, nil) }
            s.chunks.append(buffer)
            s.buffered += buffer.readableBytes
            guard s.buffered >= limit else { return (nil, nil) }
            let p = task.eventLoop.makePromise(of: Void.self)
            s.paused = p
            return (nil, p)
        }
        if let reader = action.0 { reader.resume(returning: buffer) }
        return action.1?.futureResult ?? task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveError(task: HTTPClient.Task<Void>, _ error: Error) { end(error) }

    func didFinishRequest(task: HTTPClient.Task<Void>) throws { end(nil) }

    private func end(_ error: Error?) {
        let (reader, head) = state.withLock { s -> (CheckedContinuation<ByteBuffer?, Error>?, CheckedContinuation<HTTPResponseHead, Error>?) in
            s.finished = true
            s.failure = s.failure ?? error
            defer { s.reader = nil; s.head = nil }
            return (s.reader, s.head)
        }
        if let reader {
            if let error { reader.resume(throwing: error) } else { reader.resume(returning: nil) }
        }
        head?.resume(throwing: error ?? HTTPClientError.remoteConnectionClosed)
    }

    // MARK: the body, for the reply

    struct Iterator: AsyncIteratorProtocol {
        let stream: ResponseStream
        mutating func next() async throws -> ByteBuffer? { try await stream.nextChunk() }
    }

    func makeAsyncIterator() -> Iterator { Iterator(stream: self) }

    private func nextChunk() async throws -> ByteBuffer? {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<ByteBuffer?, Error>) in
            let (ready, resume): (Result<ByteBuffer?, Error>?, EventLoopPromise<Void>?) = state.withLock { s in
                if s.first < s.chunks.count {
                    let chunk = s.chunks[s.first]
                    s.first += 1
                    s.buffered -= chunk.readableBytes
                    if s.first == s.chunks.count { s.chunks.removeAll(keepingCapacity: true); s.first = 0 }
                    var wake: EventLoopPromise<Void>?
                    if s.buffered < limit / 2 { wake = s.paused; s.paused = nil }
                    return (.success(chunk), wake)
                }
                if s.finished { return (s.failure.map { .failure($0) } ?? .success(nil), nil) }
                s.reader = c
                var wake: EventLoopPromise<Void>?
                wake = s.paused
                s.paused = nil
                return (nil, wake)
            }
            resume?.succeed(())
            if let ready { c.resume(with: ready) }
        }
    }
}
