import Foundation

/// Incremental decoder of `aws-chunked` request bodies, fed as the bytes arrive: with signed
/// chunks (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`, each chunk's signature chained from the seed and
/// checked before its bytes are released) or unsigned ones (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`,
/// with trailing checksum headers). Chunks are bounded, so a hostile body cannot make it buffer
/// more than `maxChunk` bytes.
public struct AWSChunkedDecoder: Sendable {
    public enum Mode: Sendable {
        case signed(SigV4Verified)
        case unsigned
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    private enum Stage { case header, data, dataEnd, trailers, done }

    private let mode: Mode
    private let maxChunk: Int
    /// At most this many trailer lines, of at most `maxTrailerBytes` together: a body may not
    /// grow the decoder's memory by sending trailers without end.
    public static let maxTrailers = 16
    public static let maxTrailerBytes = 16 << 10
    private var trailerBytes = 0
    private var stage = Stage.header
    private var line: [UInt8] = []
    private var chunk: [UInt8] = []
    private var expected = 0
    private var claimedSignature = ""
    private var previousSignature: String
    public private(set) var decodedLength = 0
    public private(set) var trailers: [(String, String)] = []

    public init(mode: Mode, maxChunk: Int = 16 << 20) {
        self.mode = mode
        self.maxChunk = maxChunk
        if case .signed(let v) = mode { previousSignature = v.signature } else { previousSignature = "" }
    }

    /// Memory the decoder holds now for a chunk not yet complete and a line not yet ended.
    public var bufferedCapacity: Int { chunk.capacity + line.capacity }

    /// True once the final chunk (and trailers) have been read.
    public var isComplete: Bool { stage == .done }

    /// Consumes `bytes`; returns the payload bytes they complete (verified, in signed mode).
    public mutating func feed<C: Collection>(_ bytes: C) throws -> [UInt8] where C.Element == UInt8 {
        var out: [UInt8] = []
        var i = bytes.startIndex
        while i != bytes.endIndex {
            switch stage {
            case .header, .trailers, .dataEnd:
                let b = bytes[i]
                i = bytes.index(after: i)
                line.append(b)
                guard line.count <= 4096 else { throw Failure(message: "aws-chunked: a chunk header or trailer line is longer than 4 KiB") }
                if line.count >= 2 && line[line.count - 2] == 13 && b == 10 {
                    let text = String(decoding: line.dropLast(2), as: UTF8.self)
                    line.removeAll(keepingCapacity: true)
                    try endOfLine(text, into: &out)
                }
            case .data:
                let take = min(expected - chunk.count, bytes.distance(from: i, to: bytes.endIndex))
                let j = bytes.index(i, offsetBy: take)
                chunk.append(contentsOf: bytes[i..<j])
                i = j
                if chunk.count == expected { stage = .dataEnd }
            case .done:
                throw Failure(message: "aws-chunked: bytes after the final chunk")
            }
        }
        return out
    }

    /// Throws unless the body ended exactly after its final chunk.
    public func finish() throws {
        guard stage == .done else { throw Failure(message: "aws-chunked: the body ended before its final chunk") }
    }

    private mutating func endOfLine(_ text: String, into out: inout [UInt8]) throws {
        switch stage {
        case .header:
            let parts = text.split(separator: ";", maxSplits: 1)
            guard let sizeText = parts.first, sizeText.count <= 8, let size = Int(sizeText, radix: 16), size >= 0 else {
                throw Failure(message: "aws-chunked: malformed chunk header \(text.prefix(80))")
            }
            guard size <= maxChunk else { throw Failure(message: "aws-chunked: a chunk of \(size) bytes is over the \(maxChunk)-byte limit") }
            claimedSignature = ""
            if parts.count == 2 {
                let ext = parts[1]
                guard ext.hasPrefix("chunk-signature=") else { throw Failure(message: "aws-chunked: unknown chunk extension \(ext.prefix(40))") }
                claimedSignature = String(ext.dropFirst("chunk-signature=".count))
            }
            if case .signed = mode, claimedSignature.isEmpty { throw Failure(message: "aws-chunked: a chunk has no signature") }
            expected = size
            chunk.removeAll(keepingCapacity: true)
            if size == 0 {
                try verifyChunk()
                stage = .trailers  // then trailer lines, if any, and an empty line
            } else {
                stage = .data
            }
        case .dataEnd:
            guard text.isEmpty else { throw Failure(message: "aws-chunked: chunk data longer than its declared size") }
            try verifyChunk()
            out.append(contentsOf: chunk)
            decodedLength += chunk.count
            chunk.removeAll(keepingCapacity: true)
            stage = .header
        case .trailers:
            if text.isEmpty { stage = .done; return }
            guard let colon = text.firstIndex(of: ":") else { throw Failure(message: "aws-chunked: malformed trailer \(text.prefix(80))") }
            let name = String(text[..<colon]).lowercased()
            if name == "x-amz-trailer-signature" { return }  // signed trailers: the checksum itself is verified by the engine
            trailerBytes += text.utf8.count
            guard trailers.count < Self.maxTrailers, trailerBytes <= Self.maxTrailerBytes else {
                throw Failure(message: "aws-chunked: more than \(Self.maxTrailers) trailers or \(Self.maxTrailerBytes) bytes of them")
            }
            trailers.append((name, text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        case .data, .done:
            break
        }
    }

    private mutating func verifyChunk() throws {
        guard case .signed(let v) = mode else { return }
        let expectedSignature = SigV4Verifier.chunkSignature(previous: previousSignature, chunk: Data(chunk), verified: v)
        guard SigV4Verifier.constantTimeEqual(expectedSignature, claimedSignature.lowercased()) else {
            throw Failure(message: "aws-chunked: the signature of chunk \(decodedLength)+\(chunk.count) does not match; the body was altered or signed with another key")
        }
        previousSignature = expectedSignature
    }
}
