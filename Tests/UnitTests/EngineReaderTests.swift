@testable import Daemon
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import TestSupport

/// The gateway's own GET/HEAD connections to the engine: whole bodies in order however slowly the
/// client takes them, connections reused, and a kept connection the engine closed replaced.
/// The limit catches a hang, not slowness: in the full parallel run, the mount tests' blocking
/// calls can hold both cooperative threads of a 2-core machine for minutes before these start.
@Suite(.timeLimit(.minutes(10))) struct EngineReaderTests {
    static func get(_ reader: EngineReader, method: HTTPMethod = .GET, delayPerBatch: Duration = .zero) async throws -> (Int, [UInt8]) {
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: "/b/k", headers: ["host": "127.0.0.1:\(reader.port)"])
        let (answer, stream) = try await reader.send(head)
        var bytes: [UInt8] = []
        for try await batch in stream {
            for piece in batch { bytes += piece.readableBytesView }
            if delayPerBatch > .zero { try await Task.sleep(for: delayPerBatch) }
        }
        return (Int(answer.status.code), bytes)
    }

    @Test func aBigBodyArrivesWholeAndInOrderWhileTheClientLags() async throws {
        var rng = SplitMix64(state: 7)
        var body = [UInt8](repeating: 0, count: 12 << 20)
        body.withUnsafeMutableBytes { raw in
            for i in 0..<(raw.count / 8) { raw.storeBytes(of: rng.next(), toByteOffset: i * 8, as: UInt64.self) }
        }
        let server = try KeepAliveHTTPServer(body: body, answersPerConnection: 100)
        defer { server.close() }
        let reader = EngineReader(host: "127.0.0.1", port: server.port)
        defer { reader.shutdown() }
        let (status, got) = try await Self.get(reader, delayPerBatch: .milliseconds(20))  // the read-ahead fills and stalls
        #expect(status == 200)
        #expect(got.count == body.count)
        #expect(got == body)
    }

    @Test func connectionsAreReusedAndHeadHasNoBody() async throws {
        let server = try KeepAliveHTTPServer(body: Array("hello".utf8), answersPerConnection: 100)
        defer { server.close() }
        let reader = EngineReader(host: "127.0.0.1", port: server.port)
        defer { reader.shutdown() }
        for _ in 0..<5 { #expect(try await Self.get(reader) == (200, Array("hello".utf8))) }
        #expect(try await Self.get(reader, method: .HEAD) == (200, []))
        #expect(try await Self.get(reader) == (200, Array("hello".utf8)))  // HEAD left the connection in step
        #expect(server.requests == 7)
        #expect(server.connections == 1)
    }

    @Test func aKeptConnectionTheEngineClosedIsReplaced() async throws {
        let server = try KeepAliveHTTPServer(body: Array("again".utf8), answersPerConnection: 1)
        defer { server.close() }
        let reader = EngineReader(host: "127.0.0.1", port: server.port)
        defer { reader.shutdown() }
        for _ in 0..<5 { #expect(try await Self.get(reader) == (200, Array("again".utf8))) }
        #expect(server.connections == 5)
    }

    @Test func anEngineThatIsNotThereIsAnError() async throws {
        let server = try KeepAliveHTTPServer(body: [], answersPerConnection: 1)
        let port = server.port
        server.close()
        let reader = EngineReader(host: "127.0.0.1", port: port)
        defer { reader.shutdown() }
        await #expect(throws: (any Error).self) { _ = try await Self.get(reader) }
    }
}
