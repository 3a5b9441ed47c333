import CGaragetytus
import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import S3

extension GatewayCore {
    /// Single PUTs up to this size are received whole before they are forwarded.
    static let memoryLimit: Int64 = 8 << 20

    /// Admits the body against the quota and forwards the request; streams the engine's answer back.
    func forward(_ req: GatewayRequest, body requestBody: RequestBody, op: S3Operation, record: BucketRecord?, verified: SigV4Verified, _ facts: inout Facts) async throws -> Response {
        let (mode, length) = try bodyShape(req, verified: verified)
        facts.bytesIn = length
        var reserved: Int64 = 0
        var stored = false  // whether the engine took the bytes reserved against the quota
        if let bucket = op.bucket, [.putObject, .uploadPart, .copyObject, .uploadPartCopy].contains(op.kind) {
            let bytes = [.copyObject, .uploadPartCopy].contains(op.kind) ? try await copySize(req, op: op) : length
            do {
                reserved = try usage.admit(bucket: bucket, bytes: bytes, quota: record?.quotaBytes)
            } catch let q as UsageTracker.Refusal {
                throw Denial(refusal: .init(status: 403, code: "QuotaExceeded", message: q.message), reason: "quota")
            }
        }
        defer { if let bucket = op.bucket, reserved > 0 { usage.settle(bucket: bucket, bytes: reserved, stored: stored) } }
        var body: HTTPClientRequest.Body?
        let checked = GatewayBody(base: requestBody, mode: mode, length: length, memory: memory)
        var collected = 0  // bytes of the daemon-wide budget a small PUT received whole holds
        defer { memory.release(collected) }
        if length > 0 {
            do {
                if op.kind == .putObject && length <= Self.memoryLimit && memory.reserve(Int(length)) {
                    collected = Int(length)
                    // A small single PUT is checked whole before the engine sees it.
                    body = .bytes(try await checked.collect())
                } else {
                    try await checked.prime()
                    body = .stream(checked, length: .known(length))
                }
            } catch {
                throw checked.refusal ?? error
            }
        } else if req.method == "PUT" || req.method == "POST" {
            body = .bytes(ByteBuffer())
        }
        // A HEAD of a directory marker answers with the directory's attributes, which the
        // engine does not keep (see `DirectoryAttributes`): s3fs reads a directory's mode so.
        if body == nil && req.method == "HEAD", op.kind == .headObject, let filer, let bucket = op.bucket, let key = op.key, key.hasSuffix("/") {
            let upstream: HTTPClientResponse
            do {
                upstream = try await forwarder.send(method: "HEAD", path: req.path, query: req.forwardQuery, headers: req.headers, body: nil)
            } catch {
                throw Self.engineUnreachable(error)
            }
            var headers = upstream.headers
            if upstream.status == .ok {
                for (name, value) in await DirectoryAttributes.held(filer: filer, bucket: bucket, key: key) {
                    headers.replaceOrAdd(name: "x-amz-meta-" + name, value: value)
                }
            }
            return Response(status: HTTPResponse.Status(code: Int(upstream.status.code)), headers: Self.fields(headers), body: ResponseBody())
        }
        if body == nil && (req.method == "GET" || req.method == "HEAD") {
            do {
                let (head, stream) = try await forwarder.sendReadingAhead(method: req.method, path: req.path, query: req.forwardQuery, headers: req.headers)
                return Self.response(status: Int(head.status.code), headers: head.headers, head: req.method == "HEAD", body: stream)
            } catch {
                throw Self.engineUnreachable(error)
            }
        }
        let upstream: HTTPClientResponse
        do {
            upstream = try await forwarder.send(method: req.method, path: req.path, query: req.forwardQuery, headers: req.headers, body: body)
        } catch {
            await checked.close()
            throw checked.refusal ?? Self.engineUnreachable(error)
        }
        await checked.close()
        if length >= Self.trimAfter { gt_trim_heap() }
        stored = (200..<300).contains(Int(upstream.status.code))
        if let refusal = checked.refusal { throw refusal }
        if stored, op.kind == .putObject, let filer, let bucket = op.bucket, let key = op.key, key.hasSuffix("/") {
            do {
                try await DirectoryAttributes.store(filer: filer, bucket: bucket, key: key, metadata: DirectoryAttributes.metadata(of: req.headers))
            } catch {
                throw GatewayRequest.Refusal(status: 503, code: "ServiceUnavailable",
                                             message: "the directory marker was stored, its attributes were not (\(error)); retry the request")
            }
        }
        return Self.response(from: upstream, head: req.method == "HEAD")
    }

    static func engineUnreachable(_ error: Error) -> GatewayRequest.Refusal {
        GatewayRequest.Refusal(status: 503, code: "ServiceUnavailable", message: "the storage engine did not answer (\(error)) — see `garagetytus status`")
    }

    /// How the body arrives (plain or aws-chunked) and how many payload bytes the engine gets.
    func bodyShape(_ req: GatewayRequest, verified: SigV4Verified) throws -> (GatewayBody.Mode, Int64) {
        func refuse(_ code: String, _ message: String, status: Int = 400) -> GatewayRequest.Refusal { .init(status: status, code: code, message: message) }
        let declared = req.header("content-length").map { Int64($0) }
        if let d = declared, d == nil || d! < 0 { throw refuse("InvalidArgument", "Content-Length is not a number") }
        let contentLength = declared.flatMap { $0 }
        let hash = verified.payloadHash
        if hash.hasPrefix("STREAMING-") {
            let decoderMode: AWSChunkedDecoder.Mode
            switch hash {
            case SigV4Verifier.streamingPayload: decoderMode = .signed(verified)
            case "STREAMING-UNSIGNED-PAYLOAD-TRAILER": decoderMode = .unsigned
            default: throw refuse("NotImplemented", "the payload signing method \(hash.prefix(60)) is not supported; use a signed or unsigned payload", status: 501)
            }
            guard let decoded = req.header("x-amz-decoded-content-length").flatMap({ Int64($0) }), decoded >= 0 else {
                throw refuse("MissingContentLength", "an aws-chunked body needs x-amz-decoded-content-length", status: 411)
            }
            if let raw = contentLength, raw > GatewayBody.chunkedRawLimit(decoded) {
                throw refuse("InvalidArgument", "an aws-chunked body of \(raw) bytes for \(decoded) payload bytes is mostly framing; refused")
            }
            return (.chunked(AWSChunkedDecoder(mode: decoderMode)), try Self.withinLimit(decoded))
        }
        guard hash == SigV4.unsignedPayload || (hash.utf8.count == 64 && hash.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) || ($0 >= 65 && $0 <= 70) }) else {
            throw refuse("InvalidArgument", "x-amz-content-sha256 must be a hex SHA-256, UNSIGNED-PAYLOAD or a STREAMING- method")
        }
        if contentLength == nil, req.header("transfer-encoding") != nil {
            throw refuse("MissingContentLength", "the request needs a Content-Length (S3 does not take chunked transfer encoding)", status: 411)
        }
        return (.plain(sha256: hash == SigV4.unsignedPayload ? nil : hash), try Self.withinLimit(contentLength ?? 0))
    }

    /// After relaying this many bytes, free heap goes back to the system: the buffers of a big
    /// transfer are freed on other threads than they were allocated on, and glibc keeps them.
    static let trimAfter = 64 << 20

    /// S3's limit for one PUT or one part: refused before a byte of the body is read.
    static func withinLimit(_ bytes: Int64) throws -> Int64 {
        guard bytes <= 5 << 30 else {
            throw GatewayRequest.Refusal(status: 400, code: "EntityTooLarge",
                                         message: "a single PUT or part is at most 5 GiB (this one declares \(bytes) bytes); use a multipart upload")
        }
        return bytes
    }

    /// The bytes a copy adds: the source's size, or the part-copy range.
    func copySize(_ req: GatewayRequest, op: S3Operation) async throws -> Int64 {
        if op.kind == .uploadPartCopy, let range = req.header("x-amz-copy-source-range"), range.hasPrefix("bytes=") {
            let ends = range.dropFirst(6).split(separator: "-").compactMap { Int64($0) }
            if ends.count == 2, ends[1] >= ends[0] { return ends[1] - ends[0] + 1 }
        }
        guard let source = op.copySource, let slash = source.firstIndex(of: "/") else { return 0 }
        let head: HTTPClientResponse
        do {
            head = try await forwarder.head(bucket: String(source[..<slash]), key: String(source[source.index(after: slash)...]))
        } catch {
            throw Self.engineUnreachable(error)
        }
        // Only a source the engine has, of a known size, is copied: anything else cannot be
        // admitted against the quota exactly.
        guard head.status.code == 200, let size = head.headers.first(name: "content-length").flatMap({ Int64($0) }), size >= 0 else {
            let missing = head.status.code == 404
            throw Denial(refusal: .init(status: missing ? 404 : 400, code: missing ? "NoSuchKey" : "InvalidArgument",
                                       message: missing ? "the copy source \(source.prefix(200)) does not exist"
                                                        : "the size of the copy source \(source.prefix(200)) cannot be read (engine answered \(head.status.code))"),
                         reason: missing ? "not_found" : "bad_request")
        }
        return size
    }

    static func response(from upstream: HTTPClientResponse, head: Bool) -> Response {
        let fields = Self.fields(upstream.headers)
        let status = HTTPResponse.Status(code: Int(upstream.status.code))
        if head { return Response(status: status, headers: fields, body: ResponseBody()) }
        return Response(status: status, headers: fields, body: ResponseBody(asyncSequence: upstream.body))
    }

    static func response(status: Int, headers: HTTPHeaders, head: Bool, body stream: ResponseStream) -> Response {
        let fields = Self.fields(headers)
        if head {  // no body follows; the engine's connection is released by itself
            return Response(status: HTTPResponse.Status(code: status), headers: fields, body: ResponseBody())
        }
        return Response(status: HTTPResponse.Status(code: status), headers: fields, body: ResponseBody { writer in
            do {
                var sent = 0
                for try await batch in stream {
                    sent += batch.reduce(0) { $0 + $1.readableBytes }
                    try await writer.write(contentsOf: batch)
                }
                try await writer.finish(nil)
                if sent >= Self.trimAfter { gt_trim_heap() }
            } catch {
                stream.cancel()  // the client went away, or the engine did: stop reading
                throw error
            }
        })
    }

    static func fields(_ headers: HTTPHeaders) -> HTTPFields {
        var fields = HTTPFields()
        for h in headers where !Forwarder.droppedResponse.contains(h.name.lowercased()) {
            if let name = HTTPField.Name(h.name) { fields.append(HTTPField(name: name, value: h.value)) }
        }
        return fields
    }
}
