import Foundation
import TOMLKit

/// A value of `garagetytus.toml` as the config reads it (TOMLKit parses the file).
enum TOMLValue: Equatable, Sendable {
    case string(String)
    case integer(Int)
    case float(Double)
    case bool(Bool)
    case array([TOMLValue])
    /// Anything the config never asks for (dates, inline tables), by its TOML type name.
    case other(String)

    var typeName: String {
        switch self {
        case .string: "string"
        case .integer: "integer"
        case .float: "float"
        case .bool: "boolean"
        case .array: "array"
        case let .other(name): name
        }
    }
}

/// A file that is not TOML, at the line where it stops being so.
struct TOMLFileError: Error, Equatable {
    var line: Int
    var message: String
}

/// table name ("" for the root, "a.b" for `[a.b]`) → key → (value, line)
typealias TOMLTables = [String: [String: (value: TOMLValue, line: Int)]]

enum TOMLDocument {
    /// The file's tables, each key with the line it is on (for errors that name the line).
    static func parse(_ text: String) throws -> TOMLTables {
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let e as TOMLParseError {
            throw TOMLFileError(line: e.source.begin.line, message: e.description)
        }
        let lines = KeyLines(text)
        var tables: TOMLTables = ["": [:]]
        func walk(_ table: TOMLTable, _ name: String) {
            if tables[name] == nil { tables[name] = [:] }
            for (key, v) in table {
                if let sub = v.table, !sub.inline {
                    walk(sub, name.isEmpty ? key : name + "." + key)
                } else {
                    tables[name]![key] = (value(v), lines.line(table: name, key: key))
                }
            }
        }
        walk(root, "")
        return tables
    }

    static func value(_ v: TOMLValueConvertible) -> TOMLValue {
        switch v.type {
        case .string: return .string(v.string ?? "")
        case .int: return .integer(v.int ?? 0)
        case .double: return .float(v.double ?? 0)
        case .bool: return .bool(v.bool ?? false)
        case .array: return .array(v.array.map { $0.map(value) } ?? [])
        case .table: return .other("inline table")
        default: return .other("date or time")
        }
    }

    /// Renders a string as a TOML basic string.
    static func quote(_ s: String) -> String { QuotedString.quoted(s, escapingDelete: true) }

    /// Strings as a TOML array on one line.
    static func quote(_ list: [String]) -> String { "[" + list.map { quote($0) }.joined(separator: ", ") + "]" }
}

/// Where each `key =` of each `[table]` is, found by reading the lines (TOMLKit keeps no
/// positions of values): only for messages, so a key it cannot place gets the table's line.
private struct KeyLines {
    private var lines: [String: Int] = [:]

    init(_ text: String) {
        var table = ""
        var number = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let line = raw.drop { $0 == " " || $0 == "\t" }
            if line.hasPrefix("["), !line.hasPrefix("[["), let end = line.firstIndex(of: "]") {
                table = Self.plain(line[line.index(after: line.startIndex)..<end])
                if lines[table + "\u{0}"] == nil { lines[table + "\u{0}"] = number }
            } else if let eq = line.firstIndex(of: "="), !line.hasPrefix("#") {
                let key = Self.plain(line[..<eq])
                if !key.isEmpty, lines[table + "\u{0}" + key] == nil { lines[table + "\u{0}" + key] = number }
            }
        }
    }

    func line(table: String, key: String) -> Int {
        lines[table + "\u{0}" + key] ?? lines[table + "\u{0}"] ?? 0
    }

    /// A key or table name without spaces or quotes.
    private static func plain(_ s: Substring) -> String {
        String(s.filter { $0 != " " && $0 != "\t" && $0 != "\"" && $0 != "'" })
    }
}
