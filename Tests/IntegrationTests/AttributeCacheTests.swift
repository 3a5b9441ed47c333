import Foundation
import S3
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The persistent attribute cache against plain SeaweedFS (the engine's own S3 port, whose
/// listings carry no metadata): what HEADs said survives a remount, and only what changed is
/// asked again.
@Suite(.serialized) struct AttributeCacheTests {
    @Test func aRemountStatsUnchangedObjectsWithoutHeadsAndChangedOnesAnew() throws {
        let h = try DaemonHarness(name: "attr") { $0.engine.isolation = "none" }
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        let engine = try h.engineClient()
        try engine.createBucket("plain")
        for i in 0..<60 {
            _ = try engine.put(bucket: "plain", key: "d/f\(i)", body: Data(count: i), metadata: ["mode": "\(0o100640)", "uid": "\(1000 + i)", "gid": "7"])
        }
        // Answers about objects changed in the last seconds are not kept (see AttributeCache.keep).
        let written = Date()
        while Date().timeIntervalSince(written) < 6.5 { usleep(100_000) }
        let credentials = h.paths.configDir + "/engine-identity.json"
        func mount() throws -> String {
            let mnt = h.home + "/mnt"
            try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
            let r = try h.run(["mount", "--endpoint", h.engineEndpoint.absoluteString, "--bucket", "plain", "--credentials-file", credentials, mnt])
            guard r.status == 0 else { throw HarnessError("mount failed: \(r.stderr)") }
            return mnt
        }
        func heads(_ mnt: String) -> Double { mountStat(mnt, "garagetytus_object_requests_total{method=\"HEAD\",status=\"200\"}") ?? 0 }
        func statAll(_ mnt: String) throws -> [String: stat] {
            var out: [String: stat] = [:]
            for name in try FileManager.default.contentsOfDirectory(atPath: mnt + "/d") {
                var st = stat()
                #expect(lstat(mnt + "/d/" + name, &st) == 0)
                out[name] = st
            }
            return out
        }

        var mnt = try mount()
        let first = try statAll(mnt)
        #expect(first.count == 60 && first["f5"]?.st_uid == 1005 && first["f5"]?.st_mode == 0o100640)
        #expect(heads(mnt) >= 60, "the first mount asks each object once")
        #expect(try h.run(["unmount", mnt]).status == 0)

        // Meanwhile, another client: a new body, a chmod as s3fs does it (metadata-only copy), a delete.
        _ = try engine.put(bucket: "plain", key: "d/f1", body: Data(count: 1000), metadata: ["mode": "\(0o100640)", "uid": "1001", "gid": "7"])
        try engine.copy(bucket: "plain", from: "d/f2", to: "d/f2", metadata: ["mode": "\(0o100600)", "uid": "1002", "gid": "7"])
        try engine.delete(bucket: "plain", key: "d/f3")

        mnt = try mount()
        defer { h.forceUnmount(mnt) }
        let second = try statAll(mnt)
        #expect(second.count == 59 && second["f3"] == nil)
        #expect(heads(mnt) == 2, "only the two changed objects are asked again, not \(heads(mnt))")
        #expect(second["f1"]?.st_size == 1000)
        #expect(second["f2"]?.st_mode == 0o100600)
        for i in 4..<60 {
            #expect(second["f\(i)"]?.st_uid == UInt32(1000 + i) && second["f\(i)"]?.st_mode == 0o100640 && second["f\(i)"]?.st_size == i)
        }
    }
}
