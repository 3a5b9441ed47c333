import Daemon
import Foundation
import S3
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// ListObjectsV2 with `metadata=true` through the real daemon and engine: the same listing as
/// without (a differential test over random trees and random prefix, delimiter, max-keys,
/// start-after, encoding and continuation), plus each entry's user metadata exactly as a HEAD
/// gives them; the same permission as any listing; and a mount that stats a listed directory
/// without one HEAD.
@Suite struct GatewayListingMetadataTests {
    typealias Env = GatewayBadRequestTests.Env

    static let segments = ["a", "b b", "c+d", "é", "日本", "x%y", "q&r", "z<", "f0", "f00", "f1", "-", "~"]

    @Test func listingsWithMetadataAreTheEnginesListingsPlusWhatHeadSays() throws {
        let h = try DaemonHarness(name: "lmeta")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("tree")
        let env = Env(h: h, grant: try h.mintGrant("tree"))
        let engine = try h.engineClient()
        var rng = SplitMix64(state: 20261203)
        // A tree the engine can hold: no name is both a file and a directory.
        var keys = Set<String>(), files = Set<String>(), dirs = Set<String>()
        while keys.count < 240 {
            let parts = (0..<Int.random(in: 1...3, using: &rng)).map { _ in Self.segments.randomElement(using: &rng)! }
            let path = parts.joined(separator: "/")
            let parents = (1..<parts.count).map { parts.prefix($0).joined(separator: "/") }
            let marker = Int.random(in: 0..<12, using: &rng) == 0
            guard !parents.contains(where: files.contains), !files.contains(path), marker || !dirs.contains(path) else { continue }
            dirs.formUnion(parents)
            if marker { dirs.insert(path); keys.insert(path + "/") } else { files.insert(path); keys.insert(path) }
        }
        var metadata: [String: [String: String]] = [:]
        for key in keys.sorted() {
            var meta: [String: String] = [:]
            if Int.random(in: 0..<3, using: &rng) > 0 {
                meta = ["mode": "\(0o100000 + Int.random(in: 0..<0o777, using: &rng))", "uid": "\(Int.random(in: 0..<70000, using: &rng))",
                        "note": "v<\(Int.random(in: 0..<99, using: &rng))> & \"q\""]
            }
            _ = try engine.put(bucket: "tree", key: key, body: Data(key.utf8), metadata: meta)
            metadata[key] = meta
        }
        // A metadata-only copy onto itself: the listing must give the new metadata.
        let changed = keys.sorted().first { !$0.hasSuffix("/") }!
        try engine.copy(bucket: "tree", from: changed, to: changed, metadata: ["mode": "33261", "uid": "7"])
        metadata[changed] = ["mode": "33261", "uid": "7"]

        let prefixes = [""] + keys.flatMap { k -> [String] in
            let parts = k.split(separator: "/", omittingEmptySubsequences: false)
            return [String(parts[0]) + "/", String(k.prefix(1)), parts.count > 1 ? parts[0] + "/" + parts[1].prefix(1) : ""]
        }
        var compared = 0, withMetadata = 0
        for round in 0..<40 {
            var query: [(String, String)] = [("list-type", "2")]
            let prefix = prefixes.randomElement(using: &rng)!
            if !prefix.isEmpty { query.append(("prefix", prefix)) }
            if Bool.random(using: &rng) { query.append(("delimiter", "/")) }
            query.append(("max-keys", ["1", "7", "50", "1000"].randomElement(using: &rng)!))
            if Bool.random(using: &rng) { query.append(("encoding-type", "url")) }
            if round % 5 == 0 { query.append(("start-after", keys.randomElement(using: &rng)!)) }
            var token: String?
            var pages = 0
            repeat {
                var q = query
                if let token { q.append(("continuation-token", token)) }
                let plain = try env.send("GET", "/tree?" + Self.encode(q))
                let rich = try env.send("GET", "/tree?" + Self.encode(q + [("metadata", "true")]))
                #expect(plain.status == 200 && rich.status == 200, "\(q): \(plain.status) \(rich.status) \(rich.text.prefix(300))")
                // Everything but the added elements is the engine's own listing, byte for byte.
                #expect(Self.strip(rich.text) == plain.text, "\(q)")
                let root = try #require(XMLNode.parse(rich.body))
                let encoded = root.string("EncodingType") == "url"
                for c in root.all("Contents") {
                    let raw = c.string("Key") ?? ""
                    let key = try #require(encoded ? raw.replacingOccurrences(of: "+", with: " ").removingPercentEncoding : raw)
                    let element = try #require(c.child("UserMetadata"), "\(key) has no UserMetadata")
                    var got: [String: String] = [:]
                    for item in element.children { got[String(item.name.lowercased().dropFirst(11))] = item.text }
                    let headed = try engine.head(bucket: "tree", key: key).metadata
                    #expect(got == headed, "\(key)")
                    // (SeaweedFS keeps no metadata on directory markers; HEAD says so too.)
                    #expect(got == (key.hasSuffix("/") ? [:] : metadata[key]), "\(key)")
                    withMetadata += 1
                }
                compared += 1
                pages += 1
                token = root.string("IsTruncated") == "true" ? root.string("NextContinuationToken") : nil
            } while token != nil && pages < 30
        }
        #expect(compared >= 40 && withMetadata > 200, "\(compared) pages, \(withMetadata) entries")

        // ListObjects (v1) takes the parameter and ignores it; a grant without list is refused
        // as for any listing, and so is a grant of another bucket.
        let v1 = try env.send("GET", "/tree?prefix=a%2F&metadata=true")
        let v1plain = try env.send("GET", "/tree?prefix=a%2F")
        #expect(v1.status == 200 && !v1.text.contains("UserMetadata") && v1.text == v1plain.text)
        let noList = Env(h: h, grant: try h.mintGrant("tree", perms: "read,write"))
        #expect(try noList.send("GET", "/tree?list-type=2&metadata=true").status == 403)
        try h.createBucket("elsewhere")
        let other = Env(h: h, grant: try h.mintGrant("elsewhere"))
        #expect(try other.send("GET", "/tree?list-type=2&metadata=true").status == 403)
    }

    /// Names that Swift calls equal but S3 and the filer keep apart (NFC and NFD "é", in a file
    /// name and in a directory name), with the same bytes, so the same ETag, and other metadata:
    /// each entry gets its own object's metadata, not its twin's.
    @Test func canonicallyEquivalentNamesKeepTheirOwnMetadata() throws {
        let h = try DaemonHarness(name: "lnfd")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("twins")
        let env = Env(h: h, grant: try h.mintGrant("twins"))
        let engine = try h.engineClient()
        let nfc = "caf\u{E9}", nfd = "cafe\u{301}"
        let keys = ["d/" + nfc, "d/" + nfd, nfc + "/x", nfd + "/x"]
        for (i, key) in keys.enumerated() {
            _ = try engine.put(bucket: "twins", key: key, body: Data("same".utf8), metadata: ["uid": "\(100 + i)"])
        }
        var seen = 0
        for query in ["list-type=2&prefix=d%2F&delimiter=%2F", "list-type=2&prefix=d%2F", "list-type=2"] {
            let rich = try env.send("GET", "/twins?" + query + "&metadata=true")
            #expect(rich.status == 200)
            let root = try #require(XMLNode.parse(rich.body))
            for c in root.all("Contents") {
                let key = try #require(c.string("Key"))
                var got: [String: String] = [:]
                for item in c.child("UserMetadata")?.children ?? [] { got[String(item.name.lowercased().dropFirst(11))] = item.text }
                let uid = try #require(keys.firstIndex { Array($0.utf8) == Array(key.utf8) }, "\(Array(key.utf8)) was not put") + 100
                #expect(got == ["uid": "\(uid)"], "\(Array(key.utf8)): \(got)")
                seen += 1
            }
        }
        #expect(seen == 2 + 2 + 4)
    }

    /// A cold `ls -l` of a directory written by another client: the listing carries every
    /// entry's mode and owner, so the mount sends no HEAD for it, and the directory read hands
    /// them to the kernel (readdirplus), so the `lstat`s that follow need no lookup either.
    @Test func aMountStatsAListedDirectoryWithoutHeads() throws {
        let h = try DaemonHarness(name: "lmnt")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("home")
        let g = try h.mintGrant("home")
        let client = try h.gatewayClient(g)
        for i in 0..<300 {
            _ = try client.put(bucket: "home", key: "d/f\(i)", body: Data(count: i),
                               metadata: ["mode": "\(0o100000 + (i % 2 == 0 ? 0o640 : 0o755))", "uid": "\(1000 + i)", "gid": "\(2000 + i)"])
        }
        // A TTL that outlasts the test: the kernel's entries stay valid however slow the machine.
        let (mnt, _) = try h.mountWithGrant(g, bucket: "home", extra: ["--metadata-ttl", "60"])
        defer { h.forceUnmount(mnt) }
        func heads() -> Double { h.metric("garagetytus_s3_requests_total{op=\"headObject\",status=\"200\"}") ?? 0 }
        func lookups() -> Double { mountStat(mnt, "garagetytus_fuse_ops_total{op=\"lookup\"}") ?? 0 }
        let before = heads()
        let names = try FileManager.default.contentsOfDirectory(atPath: mnt + "/d")
        #expect(names.count == 300)
        let lookupsBefore = lookups()
        for name in names {
            let i = Int(name.dropFirst())!
            var st = stat()
            #expect(lstat(mnt + "/d/" + name, &st) == 0)
            #expect(st.st_size == i && st.st_mode == 0o100000 + (i % 2 == 0 ? 0o640 : 0o755) && st.st_uid == 1000 + i && st.st_gid == 2000 + i,
                    "\(name): \(st.st_size) \(String(st.st_mode, radix: 8)) \(st.st_uid) \(st.st_gid)")
        }
        #expect(heads() == before, "the mount sent \(heads() - before) HEADs")
        #expect(lookups() - lookupsBefore < 10, "\(lookups() - lookupsBefore) lookups after the directory was read")
    }

    static func encode(_ q: [(String, String)]) -> String {
        q.map { "\($0.0)=\(SigV4.uriEncode($0.1))" }.joined(separator: "&")
    }

    static func strip(_ xml: String) -> String {
        xml.replacingOccurrences(of: "<UserMetadata>.*?</UserMetadata>", with: "", options: .regularExpression)
    }
}
