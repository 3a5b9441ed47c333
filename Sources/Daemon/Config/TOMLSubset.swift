/// The subset of TOML that `garagetytus.toml` uses: `[table]` headers, `key = value` with basic
/// strings, integers, floats and booleans, and `#` comments.
///
/// Hand-written because the only Swift TOML library available here does not resolve; anything
/// outside the subset is an error with a line number, never silently ignored.
enum TOMLValue: Equatable, Sendable {
    case string(String)
    case integer(Int)
    case float(Double)
    case bool(Bool)

    var typeName: String {
        switch self {
        case .string: return "string"
        case .integer: return "integer"
        case .float: return "float"
        case .bool: return "boolean"
        }
    }
}

struct TOMLSubsetError: Error, Equatable {
    var line: Int
    var message: String
}

/// table name ("" for the root) → key → (value, line)
typealias TOMLTables = [String: [String: (value: TOMLValue, line: Int)]]

enum TOMLSubset {
    static func parse(_ text: String) throws -> TOMLTables {
        var tables: TOMLTables = ["": [:]]
        var current = ""
        var lineNo = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNo += 1
            let line = stripComment(String(raw)).trimmingSpaces()
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), !line.hasPrefix("[[") else {
                    throw TOMLSubsetError(line: lineNo, message: "malformed table header \(line)")
                }
                let name = String(line.dropFirst().dropLast()).trimmingSpaces()
                guard isBareKey(name, allowDots: true) else {
                    throw TOMLSubsetError(line: lineNo, message: "invalid table name \"\(name)\"")
                }
                guard tables[name] == nil else {
                    throw TOMLSubsetError(line: lineNo, message: "table [\(name)] defined twice")
                }
                tables[name] = [:]
                current = name
                continue
            }
            guard let eq = line.firstIndex(of: "=") else {
                throw TOMLSubsetError(line: lineNo, message: "expected key = value, got \(line)")
            }
            let key = String(line[..<eq]).trimmingSpaces()
            let valueText = String(line[line.index(after: eq)...]).trimmingSpaces()
            guard isBareKey(key, allowDots: false) else {
                throw TOMLSubsetError(line: lineNo, message: "invalid key \"\(key)\"")
            }
            guard tables[current]?[key] == nil else {
                throw TOMLSubsetError(line: lineNo, message: "key \(key) defined twice")
            }
            let value = try parseValue(valueText, line: lineNo)
            tables[current, default: [:]][key] = (value, lineNo)
        }
        return tables
    }

    static func parseValue(_ text: String, line: Int) throws -> TOMLValue {
        if text.hasPrefix("\"") {
            return .string(try parseBasicString(text, line: line))
        }
        if text == "true" { return .bool(true) }
        if text == "false" { return .bool(false) }
        let digits = text.replacingUnderscores()
        if let i = Int(digits) { return .integer(i) }
        if digits.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let d = Double(digits), d.isFinite {
            return .float(d)
        }
        throw TOMLSubsetError(line: line, message: "unsupported value \(text) (use a \"string\", a number or true/false)")
    }

    static func parseBasicString(_ text: String, line: Int) throws -> String {
        var out = ""
        var chars = text.dropFirst().makeIterator()
        var closed = false
        while let c = chars.next() {
            if c == "\"" { closed = true; break }
            if c == "\\" {
                guard let e = chars.next() else { break }
                switch e {
                case "\"": out.append("\"")
                case "\\": out.append("\\")
                case "n": out.append("\n")
                case "t": out.append("\t")
                default: throw TOMLSubsetError(line: line, message: "unsupported escape \\\(e) in string")
                }
                continue
            }
            if c.asciiValue.map({ $0 < 0x20 }) ?? false {
                throw TOMLSubsetError(line: line, message: "control character in string")
            }
            out.append(c)
        }
        guard closed else { throw TOMLSubsetError(line: line, message: "unterminated string") }
        // Only whitespace may follow the closing quote (comments were stripped already).
        var rest = ""
        while let c = chars.next() { rest.append(c) }
        guard rest.trimmingSpaces().isEmpty else {
            throw TOMLSubsetError(line: line, message: "unexpected text after string: \(rest)")
        }
        return out
    }

    /// Removes a `#` comment that is not inside a string.
    static func stripComment(_ line: String) -> String {
        var inString = false
        var escaped = false
        var out = ""
        for c in line {
            if inString {
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
            } else if c == "\"" {
                inString = true
            } else if c == "#" {
                break
            }
            out.append(c)
        }
        return out
    }

    static func isBareKey(_ s: String, allowDots: Bool) -> Bool {
        guard !s.isEmpty else { return false }
        return s.allSatisfy { c in
            c.isASCII && (c.isLetter || c.isNumber || c == "_" || c == "-" || (allowDots && c == "."))
        }
    }

    /// Renders a string as a TOML basic string.
    static func quote(_ s: String) -> String {
        var out = "\""
        for c in s {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default: out.append(c)
            }
        }
        return out + "\""
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }

    fileprivate func replacingUnderscores() -> String {
        String(filter { $0 != "_" })
    }
}
