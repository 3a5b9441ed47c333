import Foundation

/// The names one listing of a directory showed, trusted for the metadata TTL: a lookup of a
/// name that is not there is answered ENOENT without asking the store, so creating many files
/// in a directory costs one request per file (the PUT), not a HEAD and a LIST before each.
struct ListingSnapshot {
    var files: Set<String>
    var dirs: Set<String>
    var until: Double
    /// The stored attributes the listing gave for directories, by name.
    var dirMetadata: [String: [String: String]] = [:]
}

extension VFS {
    /// Most entries a lookup miss lists to take a snapshot (five ListObjects pages); a bigger
    /// directory is not snapshotted again for `largeDirectoryPause` seconds.
    static let snapshotLimit = 5000
    static let largeDirectoryPause = 60.0

    /// What `name` in directory `parent` (key prefix `dirKey`) is, answered from the directory's
    /// snapshot and the prefetched HEADs where they can, else from the store.
    func find(parent: UInt64, dirKey: String, name: String) throws -> Node {
        let key = dirKey + name
        let now = clock.now()
        let snap = state.withLock { s -> ListingSnapshot? in
            guard let d = s.listings[parent], d.until > now else { return nil }
            return d
        }
        if let snap {
            if snap.dirs.contains(name) && !snap.files.contains(name) { return directoryNode(name: name, key: key + "/", metadata: snap.dirMetadata[name]) }
            if !snap.files.contains(name) && !snap.dirs.contains(name) {
                throw VFSError(.notFound, "\(key): no such file or directory")
            }
        }
        if let meta = try prefetch.take(key) { return fileNode(name: name, meta: meta) }
        do {
            return fileNode(name: name, meta: try store.head(key))
        } catch let e as VFSError where e.code == .notFound {
            if snap == nil, let fresh = try takeSnapshot(parent: parent, dirKey: dirKey) {
                guard fresh.dirs.contains(name) else { throw e }
                return directoryNode(name: name, key: key + "/", metadata: fresh.dirMetadata[name])
            }
            return try directoryBelow(name: name, key: key)
        }
    }

    /// Lists the directory (one page) and keeps the names when that page is all of them.
    func takeSnapshot(parent: UInt64, dirKey: String) throws -> ListingSnapshot? {
        let now = clock.now()
        if state.withLock({ ($0.largeDirs[parent] ?? 0) > now }) { return nil }
        let mark = changeMark()
        let (listing, complete) = try store.listFirst(prefix: dirKey, limit: Self.snapshotLimit)
        guard complete else {
            state.withLock { $0.largeDirs[parent] = now + Self.largeDirectoryPause }
            return nil
        }
        let snap = Self.snapshot(of: listing, dirKey: dirKey, until: trusted(from: clock.now(), learnedSince: mark))
        state.withLock { $0.listings[parent] = snap }
        return snap
    }

    static func snapshot(of listing: StoreListing, dirKey: String, until: Double) -> ListingSnapshot {
        ListingSnapshot(files: Set(listing.objects.map { String($0.key.dropFirst(dirKey.count)) }.filter { !$0.isEmpty && !$0.utf8.contains(UInt8(ascii: "/")) }),
                    dirs: Set(listing.prefixes.map { String($0.dropFirst(dirKey.count).dropLast()) }),
                    until: until,
                    dirMetadata: Dictionary(listing.prefixMetadata.map { (String($0.key.dropFirst(dirKey.count).dropLast()), $0.value) }) { a, _ in a })
    }

    /// Keeps the snapshot of `parent` true to a change made through this mount. Called with the lock held.
    static func note(_ s: inout State, parent: UInt64, name: String, kind: NodeKind?) {
        guard s.listings[parent] != nil else { return }
        // In place: copying the snapshot out would copy its sets on every create.
        s.listings[parent]!.files.remove(name)
        s.listings[parent]!.dirs.remove(name)
        switch kind {
        case .directory?: s.listings[parent]!.dirs.insert(name)
        case .some: s.listings[parent]!.files.insert(name)
        case nil: break
        }
    }

    func fileNode(name: String, meta: ObjectMeta) -> Node {
        let attrs = PosixAttributes.decode(meta.metadata, kind: .file, lastModified: meta.lastModified, defaults: options.defaults)
        return Node(ino: 0, parent: 0, name: name, kind: attrs.kind, key: meta.key, attrs: attrs, size: meta.size,
                    etag: meta.etag, lookups: 0, validUntil: 0)
    }

    /// A directory, with the attributes its marker's metadata hold (`metadata`: as a listing
    /// through the daemon gives them; SeaweedFS's own S3 API drops them), else the default
    /// attributes and the mount's start as its mtime (a stable one: `tar` and `rsync` take a
    /// changing directory mtime for a change).
    func directoryNode(name: String, key: String, metadata: [String: String]? = nil) -> Node {
        let attrs = PosixAttributes.decode(metadata ?? [:], kind: .directory, lastModified: Date(timeIntervalSince1970: mountedAt),
                                           defaults: options.defaults)
        return Node(ino: 0, parent: 0, name: name, kind: .directory, key: key, attrs: attrs, size: 0,
                    etag: nil, lookups: 0, validUntil: 0, attrsStored: metadata?.isEmpty == false)
    }
}
