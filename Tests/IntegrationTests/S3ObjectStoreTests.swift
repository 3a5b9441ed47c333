import Daemon
import Foundation
import Mount
import S3
import Testing
import TestSupport

/// The same store contract as the in-memory store, against the real engine.
@Suite(.serialized) struct S3ObjectStoreTests {
    @Test func s3StoreKeepsTheContractAndMapsErrors() throws {
        let h = try DaemonHarness(name: "store")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        let endpoint = h.adminEndpoint
        let client = try h.engineClient()
        try client.createBucket("contract")
        let store = S3ObjectStore(client: client, bucket: "contract")
        #expect(StoreContract.check(store, prefix: "") == [])
        #expect(StoreContract.check(store, prefix: "nested/prefix/") == [])

        // A key the engine refuses maps to EACCES, a missing bucket to ENOENT.
        let stranger = S3ObjectStore(client: S3Client(endpoint: endpoint, credentials: .init(accessKeyID: "GTX", secretAccessKey: "no"), retry: .none),
                                     bucket: "contract")
        do { _ = try stranger.head("x"); Issue.record("a wrong key was accepted") } catch let e as VFSError { #expect(e.errno == EACCES) }
        let noBucket = S3ObjectStore(client: client, bucket: "no-such-bucket")
        do { _ = try noBucket.list(prefix: ""); Issue.record("listing a missing bucket succeeded") } catch let e as VFSError { #expect(e.errno == ENOENT) }
    }
}
