import Foundation

/// A parsed XML element: name, text and children. Small S3 responses only.
public final class XMLNode: @unchecked Sendable {
    // SAFETY: built once by the parser on one thread, read-only afterwards.
    public let name: String
    public internal(set) var text = ""
    public internal(set) var children: [XMLNode] = []

    init(name: String) { self.name = name }

    /// The first child with this name.
    public func child(_ name: String) -> XMLNode? { children.first { $0.name == name } }
    /// Every child with this name.
    public func all(_ name: String) -> [XMLNode] { children.filter { $0.name == name } }
    /// The text of the first child with this name.
    public func string(_ name: String) -> String? { child(name)?.text }

    /// Parses a document; nil when it is not well-formed XML.
    public static func parse(_ data: Data) -> XMLNode? {
        data.withUnsafeBytes { raw in
            // SAFETY: the scanner reads the bytes only inside this closure, while `data` keeps them alive.
            var p = XMLScanner(bytes: raw.bindMemory(to: UInt8.self))
            return p.document()
        }
    }
}

/// A small scanner for the XML that S3 speaks: elements, attributes (skipped), text with the
/// predefined and numeric entities, CDATA, comments, the prolog. Hand-written because
/// FoundationXML's delegate callbacks cost tens of microseconds per element, which made one
/// 1000-key listing cost 40 ms of CPU; DTDs are refused, so there is no entity expansion.
struct XMLScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var i = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Builds the tree of the document (see `scan`).
    mutating func document() -> XMLNode? {
        var root: XMLNode?
        var stack: [XMLNode] = []
        let ok = scan(open: { name, text in
            if let parent = stack.last {
                if !text.isEmpty { parent.text += String(decoding: text, as: UTF8.self) }
            } else if root != nil {
                return false  // a second root element
            }
            let node = XMLNode(name: String(decoding: name, as: UTF8.self))
            stack.last?.children.append(node)
            if root == nil { root = node }
            stack.append(node)
            return true
        }, close: { _, text in
            let top = stack.removeLast()
            if !text.isEmpty { top.text += String(decoding: text, as: UTF8.self) }
            return true
        })
        return ok ? root : nil
    }

    /// Walks the document, calling `open` at each start tag and `close` at each end tag (a
    /// self-closing tag is both) with the element's name and the text met since the last tag
    /// (references resolved); false when the document is not well-formed (an end tag that is
    /// not the open element's, text outside the root element other than white space, elements
    /// nested deeper than 64) or a handler said no.
    mutating func scan(open: (Slice<UnsafeBufferPointer<UInt8>>, [UInt8]) -> Bool,
                       close: (Slice<UnsafeBufferPointer<UInt8>>, [UInt8]) -> Bool) -> Bool {
        var openNames: [Slice<UnsafeBufferPointer<UInt8>>] = []  // views into `bytes`, no copies
        var text: [UInt8] = []
        while i < bytes.count {
            if bytes[i] != UInt8(ascii: "<") {
                let start = i
                while i < bytes.count && bytes[i] != UInt8(ascii: "<") { i += 1 }
                if openNames.isEmpty {
                    guard bytes[start..<i].allSatisfy({ $0 == 32 || $0 == 9 || $0 == 10 || $0 == 13 }) else { return false }
                } else {
                    guard Self.unescape(bytes[start..<i], into: &text) else { return false }
                }
                continue
            }
            if starts("<?") {
                guard skip(past: "?>") else { return false }
            } else if starts("<!--") {
                guard skip(past: "-->") else { return false }
            } else if starts("<![CDATA[") {
                i += 9
                let start = i
                guard skip(past: "]]>"), !openNames.isEmpty else { return false }
                text.append(contentsOf: bytes[start..<(i - 3)])
            } else if starts("<!") {
                return false  // DOCTYPE: never in S3, refused
            } else if starts("</") {
                i += 2
                let name = scanName()
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ">"), let top = openNames.popLast(), top.elementsEqual(name),
                      close(name, text) else { return false }
                i += 1
                text.removeAll(keepingCapacity: true)
            } else {
                i += 1
                let name = scanName()
                guard !name.isEmpty, openNames.count < 64, open(name, text) else { return false }
                text.removeAll(keepingCapacity: true)
                guard let selfClosing = skipAttributes() else { return false }
                if selfClosing {
                    guard close(name, []) else { return false }
                } else {
                    openNames.append(name)
                }
            }
        }
        return openNames.isEmpty
    }

    private func starts(_ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        guard i + n <= bytes.count else { return false }
        return s.withUTF8Buffer { p in (0..<n).allSatisfy { bytes[i + $0] == p[$0] } }
    }

    private mutating func skip(past s: StaticString) -> Bool {
        while i < bytes.count {
            if starts(s) { i += s.utf8CodeUnitCount; return true }
            i += 1
        }
        return false
    }

    private mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 32 || bytes[i] == 9 || bytes[i] == 10 || bytes[i] == 13 { i += 1 }
    }

    private mutating func scanName() -> Slice<UnsafeBufferPointer<UInt8>> {
        let start = i
        while i < bytes.count {
            let c = bytes[i]
            if c == 32 || c == 9 || c == 10 || c == 13 || c == UInt8(ascii: ">") || c == UInt8(ascii: "/") || c == UInt8(ascii: "=") { break }
            i += 1
        }
        return bytes[start..<i]
    }

    /// Skips attributes up to the end of a start tag; true when it was `/>`, nil when malformed.
    private mutating func skipAttributes() -> Bool? {
        var quote: UInt8 = 0
        while i < bytes.count {
            let c = bytes[i]
            i += 1
            if quote != 0 {
                if c == quote { quote = 0 }
            } else if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                quote = c
            } else if c == UInt8(ascii: ">") {
                return false
            } else if c == UInt8(ascii: "/") {
                guard i < bytes.count, bytes[i] == UInt8(ascii: ">") else { return nil }
                i += 1
                return true
            } else if c == UInt8(ascii: "<") {
                return nil
            }
        }
        return nil
    }

    /// Appends text with `&…;` references resolved; false on an unknown or malformed one.
    static func unescape(_ s: Slice<UnsafeBufferPointer<UInt8>>, into out: inout [UInt8]) -> Bool {
        var j = s.startIndex
        while j < s.endIndex {
            // The run up to the next reference, in one append.
            let run = s[j..<s.endIndex].firstIndex(of: UInt8(ascii: "&")) ?? s.endIndex
            if run > j { out.append(contentsOf: UnsafeBufferPointer(rebasing: s.base[j..<run])) }
            j = run
            guard j < s.endIndex else { break }
            guard let semi = s[j..<s.endIndex].firstIndex(of: UInt8(ascii: ";")), semi - j <= 12 else { return false }
            let ref = String(decoding: s[(j + 1)..<semi], as: UTF8.self)
            switch ref {
            case "amp": out.append(UInt8(ascii: "&"))
            case "lt": out.append(UInt8(ascii: "<"))
            case "gt": out.append(UInt8(ascii: ">"))
            case "quot": out.append(UInt8(ascii: "\""))
            case "apos": out.append(UInt8(ascii: "'"))
            default:
                let hex = ref.hasPrefix("#x") || ref.hasPrefix("#X")
                guard ref.hasPrefix("#"), let v = UInt32(ref.dropFirst(hex ? 2 : 1), radix: hex ? 16 : 10),
                      let scalar = Unicode.Scalar(v) else { return false }
                UTF8.encode(scalar) { out.append($0) }
            }
            j = semi + 1
        }
        return true
    }
}

/// XML text escaping for request and response bodies; control characters XML 1.0 cannot carry
/// are left out.
public func xmlEscape(_ s: String) -> String {
    var out: [UInt8] = []
    xmlEscape(utf8: s.utf8, into: &out)
    return String(decoding: out, as: UTF8.self)
}

/// `xmlEscape` on UTF-8 bytes, appended to `out` (a byte below 0x20 is a control character: in
/// UTF-8 every byte of a longer sequence is 0x80 or above).
public func xmlEscape(utf8 bytes: some Sequence<UInt8>, into out: inout [UInt8]) {
    for b in bytes {
        switch b {
        case UInt8(ascii: "&"): out.append(contentsOf: "&amp;".utf8)
        case UInt8(ascii: "<"): out.append(contentsOf: "&lt;".utf8)
        case UInt8(ascii: ">"): out.append(contentsOf: "&gt;".utf8)
        case UInt8(ascii: "\""): out.append(contentsOf: "&quot;".utf8)
        case UInt8(ascii: "'"): out.append(contentsOf: "&apos;".utf8)
        default: if b >= 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { out.append(b) }
        }
    }
}
