import Foundation

/// A directory's attributes — the `x-amz-meta-*` of a PUT of its `dir/` marker (a mount's mode,
/// owner, times and extended attributes) — which SeaweedFS's S3 API drops: the gateway keeps them
/// as `Seaweed-Gt-Meta-<Name>` tags on the directory's filer entry once the engine took the marker,
/// and listings with metadata give them back, as the marker's `<UserMetadata>` and as a
/// `<UserMetadata>` in the directory's `<CommonPrefixes>` (see `ListingMetadata`). A marker PUT
/// without metadata clears them, as it would replace an object's metadata.
enum DirectoryAttributes {
    /// How the filer keys a tag (Go's canonical header form of `Seaweed-Gt-Meta-<name>`).
    static let tagPrefix = "Seaweed-Gt-Meta-"

    /// The tag name (after the filer's `Seaweed-`) for metadata `name`: `mode` → `Gt-Meta-Mode`.
    static func tagName(_ name: String) -> String {
        var out = "Gt-Meta-"
        var upper = true
        for c in name.lowercased() {
            out += upper ? c.uppercased() : String(c)
            upper = c == "-"
        }
        return out
    }

    /// The metadata name a stored tag holds (lowercased), nil for other `Extended` names.
    static func metadataName(ofTag tag: String) -> String? {
        guard tag.hasPrefix(tagPrefix), tag.utf8.count > tagPrefix.utf8.count else { return nil }
        return String(tag.dropFirst(tagPrefix.count)).lowercased()
    }

    /// The `x-amz-meta-*` headers of a request, names lowercased without the prefix.
    static func metadata(of headers: [(String, String)]) -> [(String, String)] {
        headers.compactMap { name, value in
            let lower = name.lowercased()
            guard lower.hasPrefix("x-amz-meta-"), lower.count > 11 else { return nil }
            return (String(lower.dropFirst(11)), value)
        }
    }

    /// The attributes the directory of marker `key` carries (none when the filer cannot say).
    static func held(filer: FilerClient, bucket: String, key: String) async -> [(String, String)] {
        guard let (dir, name) = ListingMetadata.place(key),
              let entry = try? await filer.entry(bucket: bucket, dir: dir, name: name) else { return [] }
        return entry.extended.compactMap { tag, value in
            metadataName(ofTag: tag).flatMap { n in String(validating: value, as: UTF8.self).map { (n, $0) } }
        }.sorted { $0.0 < $1.0 }
    }

    /// Makes the directory of marker `key` (ending in `/`) carry exactly `metadata`.
    static func store(filer: FilerClient, bucket: String, key: String, metadata: [(String, String)]) async throws {
        guard let (dir, name) = ListingMetadata.place(key) else { return }
        let held = try await filer.entry(bucket: bucket, dir: dir, name: name)?.extended.keys.filter { $0.hasPrefix(tagPrefix) } ?? []
        let set = metadata.map { (tagName($0.0), $0.1) }
        let keep = Set(set.map { "Seaweed-" + $0.0 })
        let remove = held.filter { !keep.contains($0) }.map { String($0.dropFirst("Seaweed-".count)) }
        guard !set.isEmpty || !remove.isEmpty else { return }
        try await filer.tag(bucket: bucket, path: dir.isEmpty ? name : dir + "/" + name, set: set, remove: remove)
    }
}
