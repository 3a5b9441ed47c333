import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import ServiceLifecycle

/// The S3 front door's listener on `gateway_port`: every request goes to `GatewayCore`.
enum Gateway {
    struct Responder: HTTPResponder {
        typealias Context = BasicRequestContext
        let core: GatewayCore
        func respond(to request: Request, context: Context) async throws -> Response {
            await core.handle(request)
        }
    }

    static func make(config: Config, core: GatewayCore, logger: Logger, onRunning: @escaping @Sendable () -> Void) -> some Service {
        var http = HTTP1Channel.Configuration()
        http.idleTimeout = .seconds(120)
        http.httpDecoder = .init(maxHeaderFieldSize: 16 * 1024, maxHeaderListSize: 64 * 1024, maxHeaderFieldCount: 200)
        http.additionalChannelHandlers = { [ContinueHandler()] }
        return Application(responder: Responder(core: core), server: .http1(configuration: http),
                           configuration: .init(address: .hostname(config.listenAddress, port: config.gatewayPort), serverName: nil),
                           onServerRunning: { _ in onRunning() }, logger: logger)
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
