import Foundation

/// Reads a filer JSON listing for the few fields the gateway uses (each entry's `FullPath`,
/// `Md5` and kept `Extended` values, and `ShouldDisplayLoadMore`); everything else — chunks,
/// times, modes, a page of about a kilobyte per entry — is stepped over without being built.
/// `JSONDecoder` built every value of the page first and took most of a metadata listing's time.
enum FilerListingJSON {
    struct Malformed: Error, CustomStringConvertible {
        var offset: Int
        var why: String
        var description: String { "byte \(offset): \(why)" }
    }

    static func page(_ bytes: [UInt8]) throws -> FilerClient.Page {
        try bytes.withUnsafeBufferPointer { buf in
            var r = Reader(b: buf)
            let page = try r.page()
            r.space()
            guard r.i == buf.count else { throw r.fail("bytes after the listing") }
            return page
        }
    }

    /// A cursor over the page. Every read checks `i < b.count` first, so malformed input ends in
    /// `Malformed`, never out of bounds; every loop step consumes at least one byte.
    struct Reader {
        // SAFETY: `b` is the array's buffer, valid for the whole `withUnsafeBufferPointer` call
        // that owns this reader; it is only read, at indices checked against `b.count`.
        let b: UnsafeBufferPointer<UInt8>
        var i = 0

        func fail(_ why: String) -> Malformed { Malformed(offset: i, why: why) }

        mutating func page() throws -> FilerClient.Page {
            var page = FilerClient.Page(Entries: nil, ShouldDisplayLoadMore: nil)
            try object { r, key in
                if r.equal(key, "Entries") {
                    page.Entries = try r.orNull { r in
                        var entries: [FilerClient.Entry] = []
                        try r.array { r in entries.append(try r.entry()) }
                        return entries
                    }
                } else if r.equal(key, "ShouldDisplayLoadMore") {
                    page.ShouldDisplayLoadMore = try r.bool()
                } else {
                    try r.skip()
                }
            }
            return page
        }

        mutating func entry() throws -> FilerClient.Entry {
            var path: String?
            var md5: Data?
            var extended: [String: Data] = [:]
            try object { r, key in
                if r.equal(key, "FullPath") {
                    path = try r.string()
                } else if r.equal(key, "Md5") {
                    md5 = try r.orNull { try $0.string() }.flatMap { Data(base64Encoded: $0) }
                } else if r.equal(key, "Extended") {
                    _ = try r.orNull { r in
                        try r.object { r, name in
                            let n = try r.text(name)
                            if FilerClient.Entry.kept(n) { extended[n] = Data(base64Encoded: try r.string()) } else { try r.skip() }
                        }
                    }
                } else {
                    try r.skip()
                }
            }
            guard let path else { throw fail("an entry without FullPath") }
            return FilerClient.Entry(fullPath: path, md5: md5, extended: extended)
        }

        // MARK: structure

        /// A key's raw bytes (between its quotes) and whether they hold escapes.
        struct Key {
            var range: Range<Int>
            var escaped: Bool
        }

        /// Calls `member` for each key of an object, positioned at the key's value.
        mutating func object(_ member: (inout Reader, Key) throws -> Void) throws {
            try expect(UInt8(ascii: "{"))
            space()
            if peek() == UInt8(ascii: "}") { i += 1; return }
            while true {
                space()
                let key = try rawString()
                space()
                try expect(UInt8(ascii: ":"))
                space()
                try member(&self, key)
                space()
                guard let c = peek() else { throw fail("an object without its end") }
                i += 1
                if c == UInt8(ascii: "}") { return }
                guard c == UInt8(ascii: ",") else { throw fail("',' or '}' expected") }
            }
        }

        mutating func array(_ element: (inout Reader) throws -> Void) throws {
            try expect(UInt8(ascii: "["))
            space()
            if peek() == UInt8(ascii: "]") { i += 1; return }
            while true {
                space()
                try element(&self)
                space()
                guard let c = peek() else { throw fail("an array without its end") }
                i += 1
                if c == UInt8(ascii: "]") { return }
                guard c == UInt8(ascii: ",") else { throw fail("',' or ']' expected") }
            }
        }

        /// `read`'s value, or nil for a JSON `null`.
        mutating func orNull<T>(_ read: (inout Reader) throws -> T) throws -> T? {
            if literal("null") { return nil }
            return try read(&self)
        }

        mutating func bool() throws -> Bool {
            if literal("true") { return true }
            if literal("false") { return false }
            throw fail("true or false expected")
        }

        /// Steps over one value of any kind.
        mutating func skip() throws {
            guard let c = peek() else { throw fail("a value expected") }
            switch c {
            case UInt8(ascii: "\""): _ = try rawString()
            case UInt8(ascii: "{"): try object { r, _ in try r.skip() }
            case UInt8(ascii: "["): try array { r in try r.skip() }
            default:
                // A number, true, false or null: up to the next delimiter.
                let start = i
                while let d = peek(), !Self.ends(d) { i += 1 }
                guard i > start else { throw fail("a value expected") }
            }
        }

        static func ends(_ c: UInt8) -> Bool {
            c == UInt8(ascii: ",") || c == UInt8(ascii: "}") || c == UInt8(ascii: "]") || c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09
        }

        // MARK: strings

        mutating func string() throws -> String { try text(try rawString()) }

        /// The bytes between a string's quotes, left escaped.
        mutating func rawString() throws -> Key {
            try expect(UInt8(ascii: "\""))
            let start = i
            var escaped = false
            while i < b.count {
                let c = b[i]
                if c == UInt8(ascii: "\"") {
                    i += 1
                    return Key(range: start..<(i - 1), escaped: escaped)
                }
                if c == UInt8(ascii: "\\") { escaped = true; i += 1 }
                i += 1
            }
            throw fail("a string without its closing quote")
        }

        func equal(_ key: Key, _ name: StaticString) -> Bool {
            guard !key.escaped, key.range.count == name.utf8CodeUnitCount else { return false }
            return memcmp(b.baseAddress! + key.range.lowerBound, name.utf8Start, key.range.count) == 0
        }

        /// A string's value, its escapes (`\n`, `\u00e9`, surrogate pairs) decoded.
        func text(_ s: Key) throws -> String {
            let raw = UnsafeBufferPointer(rebasing: b[s.range])
            guard s.escaped else { return String(decoding: raw, as: UTF8.self) }
            var out: [UInt8] = []
            out.reserveCapacity(raw.count)
            var j = 0
            func hex4(_ at: Int) throws -> UInt32 {
                guard at + 4 <= raw.count, let v = UInt32(String(decoding: UnsafeBufferPointer(rebasing: raw[at..<(at + 4)]), as: UTF8.self), radix: 16) else {
                    throw Malformed(offset: s.range.lowerBound + at, why: "a bad \\u escape")
                }
                return v
            }
            while j < raw.count {
                let c = raw[j]
                j += 1
                guard c == UInt8(ascii: "\\") else { out.append(c); continue }
                guard j < raw.count else { throw Malformed(offset: s.range.lowerBound + j, why: "an escape cut short") }
                let e = raw[j]
                j += 1
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    var v = try hex4(j)
                    j += 4
                    if (0xD800..<0xDC00).contains(v), j + 6 <= raw.count, raw[j] == UInt8(ascii: "\\"), raw[j + 1] == UInt8(ascii: "u") {
                        let low = try hex4(j + 2)
                        if (0xDC00..<0xE000).contains(low) {
                            v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                            j += 6
                        }
                    }
                    out.append(contentsOf: String(Unicode.Scalar(v) ?? "\u{FFFD}").utf8)
                default: out.append(e)  // \" \\ \/
                }
            }
            return String(decoding: out, as: UTF8.self)
        }

        // MARK: bytes

        func peek() -> UInt8? { i < b.count ? b[i] : nil }

        mutating func space() {
            while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        }

        mutating func expect(_ c: UInt8) throws {
            guard peek() == c else { throw fail("'\(Character(Unicode.Scalar(c)))' expected") }
            i += 1
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let n = word.utf8CodeUnitCount
            guard i + n <= b.count, memcmp(b.baseAddress! + i, word.utf8Start, n) == 0 else { return false }
            i += n
            return true
        }
    }
}
