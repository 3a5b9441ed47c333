import Foundation
import Mount
import Testing
import TestSupport

/// Seeded random operation sequences — through the VFS and by "other clients" directly on the
/// store — checked against a plain reference model after every step.
@Suite struct VFSModelTests {
    /// path ("a" or "d/a") → bytes; directories are the set `dirs` (one level).
    struct Model {
        var files: [String: Data] = [:]
        var dirs: Set<String> = []
        func entries(in dir: String) -> [String] {
            let prefix = dir.isEmpty ? "" : dir + "/"
            var names = Set(files.keys.filter { $0.hasPrefix(prefix) && !$0.dropFirst(prefix.count).contains("/") }.map { String($0.dropFirst(prefix.count)) })
            if dir.isEmpty { names.formUnion(dirs) }
            return names.sorted()
        }
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func randomSequencesMatchTheModel(seed: UInt64) throws {
        var rng = SplitMix64(state: seed)
        let store = InMemoryObjectStore()
        let clock = ManualClock()
        let vfs = VFS(store: store, options: VFSOptions(metadataTTL: 1, defaults: AttributeDefaults(uid: 0, gid: 0)), clock: clock)
        var model = Model()
        let names = ["a", "b", "c"]
        let dirNames = ["d", "e"]

        func dirIno(_ dir: String) throws -> UInt64 {
            dir.isEmpty ? VFS.rootIno : try vfs.lookup(parent: VFS.rootIno, name: dir).attr.ino
        }
        func randomBytes() -> Data { Data((0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 97...122, using: &rng) }) }
        func split(_ path: String) -> (String, String) {
            guard let slash = path.firstIndex(of: "/") else { return ("", path) }
            return (String(path[..<slash]), String(path[path.index(after: slash)...]))
        }

        for step in 0..<120 {
            let dir = Bool.random(using: &rng) || model.dirs.isEmpty ? "" : model.dirs.randomElement(using: &rng)!
            let name = names.randomElement(using: &rng)!
            let path = dir.isEmpty ? name : dir + "/" + name
            let what = Int.random(in: 0..<9, using: &rng)
            let context = "seed \(seed) step \(step) op \(what) \(path)"
            switch what {
            case 0: // create or overwrite through the mount
                guard !model.dirs.contains(path) else { continue }
                let data = randomBytes()
                let parent = try dirIno(dir)
                let fh: UInt64
                if model.files[path] != nil {
                    fh = try vfs.open(try vfs.lookup(parent: parent, name: name).attr.ino, write: true, truncate: true)
                } else {
                    fh = try vfs.create(parent: parent, name: name, mode: 0o644, uid: 0, gid: 0).1
                }
                _ = try vfs.write(fh, offset: 0, data: data)
                try vfs.flush(fh)
                vfs.release(fh)
                model.files[path] = data
            case 1: // append
                guard let old = model.files[path] else { continue }
                let extra = randomBytes()
                let fh = try vfs.open(try vfs.lookup(parent: try dirIno(dir), name: name).attr.ino, write: true)
                _ = try vfs.write(fh, offset: Int64(old.count), data: extra)
                try vfs.flush(fh)
                vfs.release(fh)
                model.files[path] = old + extra
            case 2: // truncate
                guard let old = model.files[path] else { continue }
                let size = Int.random(in: 0...old.count + 5, using: &rng)
                try vfs.truncate(try vfs.lookup(parent: try dirIno(dir), name: name).attr.ino, to: Int64(size))
                model.files[path] = size <= old.count ? old.prefix(size) : old + Data(count: size - old.count)
            case 3: // unlink
                guard model.files[path] != nil else { continue }
                try vfs.unlink(parent: try dirIno(dir), name: name)
                model.files[path] = nil
            case 4: // rename within the root (over an existing file too)
                guard dir.isEmpty, model.files[path] != nil else { continue }
                let to = names.randomElement(using: &rng)!
                guard to != name, !model.dirs.contains(to) else { continue }
                try vfs.rename(parent: VFS.rootIno, name: name, newParent: VFS.rootIno, newName: to)
                model.files[to] = model.files[path]
                model.files[path] = nil
            case 5: // mkdir
                let d = dirNames.randomElement(using: &rng)!
                guard !model.dirs.contains(d), model.files[d] == nil else { continue }
                _ = try vfs.mkdir(parent: VFS.rootIno, name: d, mode: 0o755, uid: 0, gid: 0)
                model.dirs.insert(d)
            case 6: // rmdir, refused while not empty
                let d = dirNames.randomElement(using: &rng)!
                guard model.dirs.contains(d) else { continue }
                if model.entries(in: d).isEmpty {
                    try vfs.rmdir(parent: VFS.rootIno, name: d)
                    model.dirs.remove(d)
                } else {
                    do { try vfs.rmdir(parent: VFS.rootIno, name: d); Issue.record("\(context): rmdir of a non-empty dir") }
                    catch let e as VFSError { #expect(e.errno == ENOTEMPTY, "\(context)") }
                }
            case 7: // another client writes the object
                guard !model.dirs.contains(path) else { continue }
                let data = randomBytes()
                try store.put(path, data: data, metadata: [:])
                model.files[path] = data
            default: // another client deletes the object
                guard model.files[path] != nil else { continue }
                try store.delete(path)
                model.files[path] = nil
            }
            clock.advance(1.5)  // past the metadata TTL: other clients' changes must be visible now

            for d in [""] + model.dirs.sorted() {
                let listed = try vfs.readdir(try dirIno(d)).map(\.name).filter { $0 != "." && $0 != ".." }.sorted()
                #expect(listed == model.entries(in: d), "\(context): listing of /\(d)")
            }
            for (p, data) in model.files {
                let (d, n) = split(p)
                let ino = try vfs.lookup(parent: try dirIno(d), name: n).attr.ino
                #expect(try vfs.getattr(ino).size == Int64(data.count), "\(context): size of \(p)")
                let fh = try vfs.open(ino, write: false)
                #expect(try vfs.read(fh, offset: 0, size: 1 << 16) == data, "\(context): content of \(p)")
                vfs.release(fh)
            }
        }
    }
}
