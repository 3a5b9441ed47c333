import Foundation

extension VFS {
    /// After a write: starts the file's upload once it is two parts long (when all of its bytes
    /// are local and it fits in an upload's parts), and tells a running upload what changed.
    func streamWrite(_ ino: UInt64, _ range: Range<Int64>) {
        let p = Self.streamPartSize
        enum Next { case none, feed(UploadStream, Int64), start(OpenFile, Node) }
        let next = state.withLock { s -> Next in
            guard let o = s.open[ino], let n = s.nodes[ino], !o.unlinked else { return .none }
            if let st = o.stream { return .feed(st, o.size) }
            guard o.local == nil, !o.streamStarting, o.size >= 2 * p, o.size < Int64(UploadStream.maxParts - 1) * p else { return .none }
            s.open[ino]?.streamStarting = true
            return .start(o, n)
        }
        switch next {
        case .none:
            return
        case .feed(let st, let size):
            st.wrote(range, size: size)
        case .start(let o, let n):
            var attrs = n.attrs
            attrs.mtime = clock.now().rounded(.down)  // whole seconds, as stored
            attrs.ctime = attrs.mtime
            // Parts are read from the staging file: the bytes move there now if they are in memory.
            let stream: UploadStream? = {
                guard let fd = try? o.staging.file(), let id = try? store.startUpload(n.key, metadata: attrs.encode()) else { return nil }
                return UploadStream(key: n.key, uploadId: id, partSize: p, fd: fd, path: o.staging.path, store: store, pool: uploadPool,
                                    width: S3ObjectStore.uploadWidth)
            }()
            let size = state.withLock { s -> Int64? in
                s.open[ino]?.streamStarting = false
                guard s.open[ino] != nil, let stream else { return nil }
                s.open[ino]?.stream = stream
                return s.open[ino]?.size
            }
            if let stream {
                if let size { stream.wrote(0..<size, size: size) } else { stream.abort() }
            }
        }
    }

    /// Drops the file's running upload, if any (the file changed in a way its parts cannot follow).
    func cancelStream(_ ino: UInt64) {
        let stream = state.withLock { s -> UploadStream? in
            let st = s.open[ino]?.stream
            s.open[ino]?.stream = nil
            return st
        }
        stream?.abort()
    }
}
