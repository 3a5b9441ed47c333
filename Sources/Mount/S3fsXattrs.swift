import Foundation

/// Extended attributes in one object metadata value, `x-amz-meta-xattr`, as s3fs keeps them, so
/// a bucket written by either mount shows the other's: a JSON-like map `{"name":"<base64 of the
/// value>",…}` in name order, percent-encoded but for letters, digits and `.-_~/`. s3fs splits
/// that map at each `,` and each pair at its last `:`, unescaped: a name with `"` or `,` (or a
/// control character, which no S3 metadata value can hold) cannot be stored (`storable`).
public enum S3fsXattrs {
    /// The most bytes the encoded value may take: S3 limits all of an object's user metadata to
    /// 2 KiB on AWS; SeaweedFS and s3fs take more, but a request header this long is already odd.
    public static let maxEncodedBytes = 8 << 10

    public static func storable(name: String) -> Bool {
        !name.isEmpty && !name.utf8.contains { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: ",") || $0 < 0x20 || $0 == 0x7F }
    }

    public static func encode(_ xattrs: [String: Data]) -> String {
        // s3fs's map is ordered by the names' bytes.
        let pairs = xattrs.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
            .map { "\"\($0.key)\":\"\($0.value.base64EncodedString())\"" }
        return percentEncode("{" + pairs.joined(separator: ",") + "}")
    }

    /// The map a stored value holds; malformed pairs are skipped (as s3fs does), a malformed
    /// value is an empty map.
    public static func decode(_ stored: String) -> [String: Data] {
        let json = percentDecode(stored)
        guard let open = json.firstIndex(of: UInt8(ascii: "{")), let close = json.lastIndex(of: UInt8(ascii: "}")), open < close else { return [:] }
        var out: [String: Data] = [:]
        for pair in json[(open + 1)..<close].split(separator: UInt8(ascii: ","), omittingEmptySubsequences: true) {
            guard let colon = pair.lastIndex(of: UInt8(ascii: ":")),
                  let name = unquoted(pair[pair.startIndex..<colon]), let value = unquoted(pair[(colon + 1)...]),
                  let bytes = Data(base64Encoded: String(decoding: value, as: UTF8.self)) else { continue }
            out[String(decoding: name, as: UTF8.self)] = bytes
        }
        return out
    }

    static func unquoted(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        // s3fs trims spaces around each side, then requires the quotes.
        let t = s.drop { $0 == UInt8(ascii: " ") }.reversed().drop { $0 == UInt8(ascii: " ") }.reversed()
        let bytes = ArraySlice(t)
        guard bytes.count >= 2, bytes.first == UInt8(ascii: "\""), bytes.last == UInt8(ascii: "\"") else { return nil }
        return bytes.dropFirst().dropLast()
    }

    static func percentEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }

    static func percentDecode(_ s: String) -> [UInt8] {
        let b = Array(s.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "%"), i + 2 < b.count, let v = UInt8(String(decoding: b[(i + 1)...(i + 2)], as: UTF8.self), radix: 16) {
                out.append(v)
                i += 3
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return out
    }
}
