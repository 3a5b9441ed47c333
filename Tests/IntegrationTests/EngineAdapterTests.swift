import Daemon
import Foundation
import Logging
import S3
import Testing
import TestSupport

/// The SeaweedFS adapter used in-process against a real `weed`: the seam later layers build on.
/// Run alone by scripts/test.sh after the parallel suite (GT_HEAVY=1): under the parallel suite's
/// load its engine, a child of the test process, once in a few runs never got its S3 port (see
/// the session notes); every daemon test still starts the engine the production way.
@Suite(.serialized) struct EngineAdapterTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["GT_HEAVY"] != nil, "run alone by scripts/test.sh"))
    func bucketsUsageAndRepairAgainstTheRealEngine() async throws {
        let h = try DaemonHarness(name: "eng")
        #expect(try h.run(["bootstrap"]).status == 0)
        let identity = try EngineIdentity.load(from: h.paths.identityFile)
        let weed = try WeedLocator.locate(configured: "", environment: ProcessInfo.processInfo.environment)
        let engine = SeaweedEngine(paths: h.paths, config: h.config, identity: identity, weedPath: weed,
                                   logger: Logger(label: "test"), onEvent: { _ in })
        try await engine.start()
        let enginePID = try #require(engine.currentPID)
        do {
            #expect(await engine.isHealthy())
            try await engine.createBucket("adapter-test")
            let s3 = engine.client
            for (key, size) in [("a.bin", 1000), ("dir/b.bin", 2345)] {
                try s3.put(bucket: "adapter-test", key: key, body: Data(repeating: 7, count: size))
            }
            #expect(try await engine.bucketUsage("adapter-test") == BucketUsage(bytes: 3345, objects: 2))
            // A wrong key is refused by the engine: it is not anonymous-open.
            let stranger = S3Client(endpoint: engine.s3Endpoint, credentials: .init(accessKeyID: "GTNOBODY", secretAccessKey: "nope"), retry: .none,
                                    unixSocket: engine.s3Socket)
            // And it has no port on the host at all (ADR 0003).
            #expect(throws: S3Error.self) { _ = try S3Client(endpoint: engine.s3Endpoint, credentials: .init(accessKeyID: identity.accessKeyID, secretAccessKey: identity.secretAccessKey), retry: .none).list(bucket: "adapter-test", maxKeys: 1) }
            #expect(throws: S3Error.self) { _ = try stranger.get(bucket: "adapter-test", key: "a.bin") }
            do { _ = try stranger.get(bucket: "adapter-test", key: "a.bin") } catch let e as S3Error { #expect(e.kind == .accessDenied) }

            let steps = await engine.repair(budget: .seconds(15))
            #expect(steps.map(\.name) == ["engine volume.fsck", "engine fs.verify"])
            #expect(steps.allSatisfy { $0.ok }, "\(steps)")
            // Our two objects at least; the engine may keep a file of its own (seen: 3 on a slow run).
            let verified = steps[1].detail.firstMatch(of: /verified (\d+) files/).flatMap { Int($0.1) } ?? 0
            #expect(verified >= 2 && steps[1].detail.contains("error 0 files"), "\(steps[1].detail)")

            for key in ["a.bin", "dir/b.bin"] {
                try s3.delete(bucket: "adapter-test", key: key)
            }
            try await engine.deleteBucket("adapter-test")
            await #expect(throws: DaemonError.self) { () async throws in _ = try await engine.bucketUsage("adapter-test") }
        } catch {
            await engine.stop()
            throw error
        }
        let stopStarted = Date()
        await engine.stop()
        // Bounded by the grace before SIGKILL, not by how long the engine takes to wind down
        // (the margin is for a loaded machine, not a performance goal).
        #expect(Date().timeIntervalSince(stopStarted) < h.config.engine.stopGraceSeconds + 15)
        #expect(kill(enginePID, 0) != 0)
        #expect(engine.currentPID == nil)
    }
}
