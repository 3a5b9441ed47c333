import Foundation

/// The Content-Type a new object gets from its name, as s3fs gives it: the type `/etc/mime.types`
/// lists for the last extension, else for the one before it (`a.tar.gz`), else
/// `application/octet-stream` — never a `charset` nobody asked for (the engine would otherwise
/// sniff the bytes and add one). Extensions match without regard to case.
public struct MimeTypes: Sendable {
    let byExtension: [String: String]

    public static let fallback = "application/octet-stream"

    /// The system's table, read once; a few common types when the machine has none.
    public static let system = MimeTypes(contentsOf: "/etc/mime.types") ?? MimeTypes(table: builtIn)

    public init(table: [String: String]) { byExtension = table }

    /// A `mime.types` file: `type ext ext …` per line, `#` comments.
    public init?(contentsOf path: String) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        var table: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let type = fields.first, type.contains("/") else { continue }
            for ext in fields.dropFirst() where table[ext.lowercased()] == nil { table[ext.lowercased()] = String(type) }
        }
        guard !table.isEmpty else { return nil }
        byExtension = table
    }

    public func type(forKey key: String) -> String {
        let name = key.split(separator: "/").last.map(String.init) ?? key
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count > 1 else { return Self.fallback }
        if let t = byExtension[parts[parts.count - 1].lowercased()] { return t }
        if parts.count > 2, let t = byExtension[parts[parts.count - 2].lowercased()] { return t }
        return Self.fallback
    }

    static let builtIn: [String: String] = [
        "txt": "text/plain", "html": "text/html", "htm": "text/html", "css": "text/css", "csv": "text/csv",
        "md": "text/markdown", "xml": "application/xml", "json": "application/json", "js": "text/javascript",
        "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "svg": "image/svg+xml",
        "webp": "image/webp", "pdf": "application/pdf", "zip": "application/zip", "gz": "application/gzip",
        "tar": "application/x-tar", "wasm": "application/wasm", "mp4": "video/mp4", "mp3": "audio/mpeg",
    ]
}
