import Foundation

extension VFS {
    /// Renames a file (one rename request where the store has them, else copy and delete; an
    /// existing target file is replaced) or a directory (every key below it). `noReplace` is RENAME_NOREPLACE.
    public func rename(parent: UInt64, name: String, newParent: UInt64, newName: String, noReplace: Bool = false) throws {
        try requireWritable()
        let src = try child(parent, name)
        try Self.checkName(newName)
        let dstDir = try node(newParent)
        guard dstDir.kind == .directory else { throw VFSError(.notDirectory, "rename: target parent is not a directory") }
        try Self.checkNewName(newName, in: dstDir, directory: src.kind == .directory)
        let existing: Node? = try exists(newParent, newName) ? child(newParent, newName) : nil
        if let existing {
            if noReplace { throw VFSError(.exists, "rename: \(newName) exists") }
            if existing.ino == src.ino { return }
            switch (src.kind, existing.kind) {
            case (.directory, .directory):
                let l = try store.list(prefix: existing.key)
                if !l.prefixes.isEmpty || l.objects.contains(where: { $0.key != existing.key }) {
                    throw VFSError(.notEmpty, "rename: target directory \(newName) is not empty")
                }
            case (.directory, _): throw VFSError(.notDirectory, "rename: cannot replace a file with a directory")
            case (_, .directory): throw VFSError(.isDirectory, "rename: cannot replace a directory with a file")
            default: break
            }
        }
        if src.kind == .directory {
            // An empty directory it replaces has only its marker, and the new marker is stored
            // over it (deleting it after would delete the renamed directory's marker).
            try renameDirectory(src, to: dstDir.key + newName + "/")
            move(src.ino, from: (parent, name), to: (newParent, newName), newKey: dstDir.key + newName + "/")
            return
        }
        try materialize(src.ino)  // an open, partly staged file no longer has its base after the move
        // No upload of the file may start under the old key once it has been copied away.
        try uploadGate.withExclusive(src.ino) {
            // Unsaved bytes go with the file, unless they conflicted with another client's version.
            if state.withLock({ $0.open[src.ino]?.conflicted != true }) { try uploadNow(src.ino) }
            let key = try node(src.ino).key
            let target = dstDir.key + newName
            if try !store.rename(from: key, to: target) {
                try store.copy(from: key, to: target, metadata: nil)
                try store.delete(key)
            }
            move(src.ino, from: (parent, name), to: (newParent, newName), newKey: target)
            statusChanged(src.ino, key: target)
        }
    }

    /// Moves every key below the directory to the new prefix (one rename each where the store
    /// has renames, else a copy), then deletes the old ones that are left.
    func renameDirectory(_ dir: Node, to newPrefix: String) throws {
        var keys = try allKeys(under: dir.key)
        var moved: Set<String> = []
        for key in keys where key != dir.key {
            let target = newPrefix + key.dropFirst(dir.key.count)
            if key.hasSuffix("/") {
                // Markers are stored again rather than copied (CopyObject of `dir/` fails on SeaweedFS).
                try store.put(target, data: Data(), metadata: (try? store.head(key).metadata) ?? [:])
            } else if try store.rename(from: key, to: String(target)) {
                moved.insert(key)
            } else {
                try store.copy(from: key, to: target, metadata: nil)
            }
        }
        keys.removeAll { moved.contains($0) }
        try store.put(newPrefix, data: Data(), metadata: dir.attrs.encode())
        // Deepest first: a marker goes after everything below it, so no empty folder is left behind.
        for key in keys.sorted(by: { $0.count > $1.count }) { try store.delete(key) }
    }

    /// Every key at or below `prefix`.
    func allKeys(under prefix: String) throws -> [String] {
        var keys: [String] = []
        var pending = [prefix]
        while let p = pending.popLast() {
            let l = try store.list(prefix: p)
            keys += l.objects.map(\.key)
            pending += l.prefixes
        }
        return keys
    }

    /// Moves an inode in the table and rewrites the keys of everything below it.
    func move(_ ino: UInt64, from: (UInt64, String), to: (UInt64, String), newKey: String) {
        entriesChanged(from.0)
        entriesChanged(to.0)
        state.withLock { s in
            guard var n = s.nodes[ino] else { return }
            let oldKey = n.key
            if let replaced = s.children[to.0]?[to.1], replaced != ino, var r = s.nodes[replaced] {
                r.validUntil = 0
                s.nodes[replaced] = r
            }
            s.children[from.0]?[from.1] = nil
            s.children[to.0, default: [:]][to.1] = ino
            Self.note(&s, parent: from.0, name: from.1, kind: nil)
            Self.note(&s, parent: to.0, name: to.1, kind: n.kind)
            n.parent = to.0
            n.name = to.1
            n.key = newKey
            s.nodes[ino] = n
            if n.kind == .directory {
                for (i, var other) in s.nodes where i != ino && other.key.hasPrefix(oldKey) {
                    other.key = newKey + other.key.dropFirst(oldKey.count)
                    s.nodes[i] = other
                }
            }
            for (fh, var h) in s.handles where h.key == oldKey || (n.kind == .directory && h.key.hasPrefix(oldKey)) {
                h.key = newKey + h.key.dropFirst(oldKey.count)
                s.handles[fh] = h
            }
        }
    }

    /// A renamed file's ctime is now, in the object too, and its Content-Type the new name's (as
    /// s3fs gives it): a metadata-only copy onto itself, which keeps what other tools stored —
    /// the engine copies no bytes for it (3–5 ms for 100 MiB). The rename has happened: a failure
    /// here leaves the old ctime, never the rename undone.
    func statusChanged(_ ino: UInt64, key: String) {
        let now = clock.now().rounded(.down)
        guard var attrs = state.withLock({ $0.nodes[ino]?.attrs }) else { return }
        attrs.ctime = now
        guard (try? store.copy(from: key, to: key, metadata: attrs.encode(), retype: true)) != nil else { return }
        state.withLock { s in s.nodes[ino]?.attrs.ctime = now }
    }
}
