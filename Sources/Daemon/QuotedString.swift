import Foundation

/// A string in double quotes with `"`, `\` and control characters escaped (`\n`, `\t`, `\r`,
/// else `\uXXXX`): a JSON string, and a TOML basic string (which must escape DEL too).
enum QuotedString {
    static func quoted(_ s: String, escapingDelete: Bool = false) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 || (escapingDelete && u.value == 0x7f) {
                    out += String(format: "\\u%04x", u.value)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
