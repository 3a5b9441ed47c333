import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOSSL
import ServiceLifecycle

/// The S3 front door's listener on `gateway_port`: every request goes to `GatewayCore`.
enum Gateway {
    /// A request's context with the address it came from (anonymous refusals are counted per source).
    struct Context: RequestContext {
        var coreContext: CoreRequestContextStorage
        let source: String
        init(source: ApplicationRequestContextSource) {
            coreContext = .init(source: source)
            self.source = source.channel.remoteAddress?.ipAddress ?? "unknown"
        }
    }

    struct Responder: HTTPResponder {
        let core: GatewayCore
        func respond(to request: Request, context: Context) async throws -> Response {
            await core.handle(request, from: context.source)
        }
    }

    /// `tls`: from `GatewayTLS.load` (nil: plain HTTP, which the config allows on loopback only).
    static func make(config: Config, tls: TLSConfiguration?, core: GatewayCore, logger: Logger,
                     onRunning: @escaping @Sendable () -> Void) throws -> some Service {
        var http = HTTP1Channel.Configuration()
        http.idleTimeout = .milliseconds(Int64(config.gateway.idleTimeoutSeconds * 1000))
        http.httpDecoder = .init(maxHeaderFieldSize: 16 * 1024, maxHeaderListSize: 64 * 1024, maxHeaderFieldCount: 200)
        let headerTimeout = TimeAmount.milliseconds(Int64(config.gateway.headerTimeoutSeconds * 1000))
        http.additionalChannelHandlers = { [HeadDeadlineHandler(timeout: headerTimeout), ContinueHandler()] }
        // Beyond the cap, connections wait in the kernel's listen queue until one closes.
        let cap = MaximumAvailableConnections(config.gateway.maxConnections, logger: logger)
        let server: HTTPServerBuilder = try tls.map { try .tls(.http1(configuration: http), tlsConfiguration: $0) } ?? .http1(configuration: http)
        return Application(responder: Responder(core: core), server: server,
                           configuration: .init(address: .hostname(config.listenAddress, port: config.gatewayPort), serverName: nil,
                                                availableConnectionsDelegate: cap),
                           onServerRunning: { _ in onRunning() }, logger: logger)
    }
}

/// Closes a new connection whose first request head has not arrived in time (a slowloris client
/// sending its headers a byte at a time); later requests on the connection fall under the idle
/// timeout.
final class HeadDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    let timeout: TimeAmount
    var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }
}

/// Answers `Expect: 100-continue` at once, so clients (aws-cli, boto3) send their bodies without
/// waiting out their timeout (the gateway refuses before reading a body it would not accept); and
/// answers a request the HTTP parser rejects (headers beyond the limits, garbage) with S3 XML.
final class ContinueHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(var head) = unwrapInboundIn(data), head.headerFields[.expect]?.lowercased() == "100-continue" {
            head.headerFields[.expect] = nil
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
            context.fireChannelRead(wrapInboundOut(.head(head)))
            return
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard error is HTTPParserError else { return context.fireErrorCaught(error) }
        let body = GatewayXML.errorText(code: "InvalidRequest",
                                        message: "the request is not valid HTTP or its headers exceed the limits (16 KiB a header, 64 KiB in all)",
                                        resource: "")
        let head = HTTPResponse(status: .badRequest, headerFields: [.contentType: "application/xml", .contentLength: "\(body.utf8.count)", .connection: "close"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(ByteBuffer(string: body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }
}
