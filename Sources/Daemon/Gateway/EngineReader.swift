import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Bodyless requests (GET, HEAD) to the engine on keep-alive connections of the gateway's own,
/// which read up to 1 MiB per system call (AsyncHTTPClient's connections read 64 KiB and offer no
/// way to change that); see `ResponseStream` for why the piece size decides a relay's speed.
final class EngineReader: Sendable {
    enum Failure: Error, CustomStringConvertible {
        case closedEarly, timedOut
        var description: String {
            switch self {
            case .closedEarly: "the engine closed the connection before it answered"
            case .timedOut: "the engine sent nothing for \(EngineReader.readTimeout.nanoseconds / 1_000_000_000) s"
            }
        }
    }

    let host: String
    let port: Int
    /// A Unix socket to connect to instead of host:port.
    let socketPath: String?
    let group: EventLoopGroup
    /// Connections that finished an exchange and may carry the next one.
    private let idle = Mutex<[Connection]>([])
    static let maxIdle = 16
    /// A connection that brings nothing for this long (an engine stuck mid-answer, a client that
    /// stopped taking the body, a connection idle in the pool) is closed.
    static let readTimeout = TimeAmount.minutes(5)

    init(host: String, port: Int, socketPath: String? = nil, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.host = host
        self.port = port
        self.socketPath = socketPath
        self.group = group
    }

    /// Sends `head` (no body) and waits for the answer's head; its body (none for HEAD) follows
    /// in the stream. A kept connection the engine closed meanwhile is replaced once.
    func send(_ head: HTTPRequestHead) async throws -> (HTTPResponseHead, ResponseStream) {
        if let kept = takeIdle() {
            let stream = start(head, on: kept)
            if let answer = try? await stream.head() { return (answer, stream) }
            stream.cancel()
        }
        let stream = start(head, on: try await connect())
        return (try await stream.head(), stream)
    }

    private func start(_ head: HTTPRequestHead, on connection: Connection) -> ResponseStream {
        connection.start(head) { [weak self] reusable in
            if reusable, let self { self.keep(connection) } else { connection.channel.close(promise: nil) }
        }
    }

    func shutdown() {
        let all = idle.withLock { list in defer { list = [] }; return list }
        for c in all { c.channel.close(promise: nil) }
    }

    private func takeIdle() -> Connection? {
        idle.withLock { list in
            while let c = list.popLast() {
                if c.channel.isActive { return c }
            }
            return nil
        }
    }

    private func keep(_ c: Connection) {
        let dropped = idle.withLock { list -> Connection? in
            guard list.count < Self.maxIdle else { return c }
            list.append(c)
            return nil
        }
        dropped?.channel.close(promise: nil)
    }

    private func connect() async throws -> Connection {
        var bootstrap = ClientBootstrap(group: group).connectTimeout(.seconds(5))
        if socketPath == nil { bootstrap = bootstrap.channelOption(.socketOption(.tcp_nodelay), value: 1) }
        bootstrap = bootstrap
            .channelOption(.autoRead, value: false)
            .channelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 4096, initial: 64 << 10, maximum: 1 << 20))
            .channelOption(.maxMessagesPerRead, value: 1)  // one read per `read()`: ≤ 1 MiB past the stream's limit
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: Self.readTimeout))
                    try channel.pipeline.syncOperations.addHandler(Handler())
                }
            }
        let channel = try await (socketPath.map { bootstrap.connect(unixDomainSocketPath: $0) } ?? bootstrap.connect(host: host, port: port)).get()
        return Connection(channel: channel)
    }

    /// One connection: sends a request and feeds the answer to a stream; `done` learns at the
    /// answer's end whether the engine keeps the connection open.
    struct Connection: Sendable {
        let channel: Channel

        func start(_ head: HTTPRequestHead, done: @escaping @Sendable (Bool) -> Void) -> ResponseStream {
            let channel = self.channel
            let stream = ResponseStream(more: { channel.eventLoop.execute { channel.read() } },
                                        stop: { channel.close(promise: nil) })
            channel.eventLoop.execute {
                // A connection whose close was seen after it left the pool gets no more events.
                guard channel.isActive, let handler = try? channel.pipeline.syncOperations.handler(type: Handler.self) else {
                    stream.ended(Failure.closedEarly)
                    return
                }
                handler.begin(stream, done: done)
                let sent = channel.eventLoop.makePromise(of: Void.self)
                sent.futureResult.whenFailure { stream.ended($0) }
                channel.write(HTTPClientRequestPart.head(head), promise: nil)
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: sent)
                channel.read()
            }
            return stream
        }
    }

    /// Hands the connection's answer to the current stream; confined to the event loop.
    final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        private var stream: ResponseStream?
        private var done: ((Bool) -> Void)?
        private var keepAlive = false
        private var wantsMore = true

        func begin(_ stream: ResponseStream, done: @escaping (Bool) -> Void) {
            self.stream = stream
            self.done = done
            wantsMore = true
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard let stream else {  // nothing asked: the connection is not in a state to reuse
                context.close(promise: nil)
                return
            }
            switch unwrapInboundIn(data) {
            case .head(let head):
                keepAlive = head.isKeepAlive
                stream.received(head: head)
            case .body(let piece):
                wantsMore = stream.received(body: piece)
            case .end:
                self.stream = nil
                let done = self.done
                self.done = nil
                done?(keepAlive)  // back in the pool before the reader hears of the end and asks again
                stream.ended(nil)
                context.read()  // so that the engine closing an idle connection is noticed
            }
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            if stream != nil && wantsMore { context.read() }
        }

        func channelInactive(context: ChannelHandlerContext) {
            finish(Failure.closedEarly)
            context.fireChannelInactive()
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if event is IdleStateHandler.IdleStateEvent {
                finish(Failure.timedOut)
                context.close(promise: nil)
            }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            finish(error)
            context.close(promise: nil)
        }

        private func finish(_ error: Error) {
            stream?.ended(error)
            stream = nil
            done = nil
        }
    }
}
