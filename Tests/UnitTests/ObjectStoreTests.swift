import Foundation
import Mount
import S3
import Synchronization
import Testing
import TestSupport

@Suite struct ObjectStoreTests {
    @Test func inMemoryStoreKeepsTheContract() {
        #expect(StoreContract.check(InMemoryObjectStore(), prefix: "") == [])
        #expect(StoreContract.check(InMemoryObjectStore(), prefix: "some/prefix/") == [])
    }

    /// Listings ask for metadata; entries that come with `<UserMetadata>` carry it, others do not;
    /// an endpoint that refuses the parameter gets the listing asked again without it, and is
    /// never asked with it again.
    @Test func listingsAskForMetadataUntilTheEndpointRefusesIt() throws {
        let asked = Mutex<[Bool]>([])
        let refuse = Mutex(false)
        let server = try CannedHTTPServer { head in
            let withMetadata = head.prefix(while: { $0 != "\r" }).contains("metadata=true")
            asked.withLock { $0.append(withMetadata) }
            if withMetadata && refuse.withLock({ $0 }) {
                return (400, "<Error><Code>InvalidArgument</Code><Message>unknown parameter metadata</Message></Error>")
            }
            let user = withMetadata ? "<UserMetadata><X-Amz-Meta-mode>33188</X-Amz-Meta-mode><content-type>x</content-type></UserMetadata>" : ""
            return (200, "<ListBucketResult><Contents><Key>d/a</Key><Size>1</Size><ETag>\"e\"</ETag>\(user)</Contents>"
                + "<Contents><Key>d/b</Key><Size>2</Size></Contents><IsTruncated>false</IsTruncated></ListBucketResult>")
        }
        defer { server.close() }
        let client = S3Client(endpoint: URL(string: "http://127.0.0.1:\(server.port)")!,
                              credentials: S3Credentials(accessKeyID: "AK", secretAccessKey: "SK"), retry: .none)
        let store = S3ObjectStore(client: client, bucket: "b")
        let first = try store.list(prefix: "d/").objects
        #expect(first.map(\.hasMetadata) == [true, false] && first[0].metadata == ["mode": "33188"])
        refuse.withLock { $0 = true }
        let second = try store.list(prefix: "d/").objects
        #expect(second.map(\.hasMetadata) == [false, false] && second.count == 2)
        _ = try store.listFirst(prefix: "d/", limit: 10)
        #expect(asked.withLock { $0 } == [true, true, false, false])
    }

    @Test func injectedFailuresReachTheCallerThenStop() throws {
        let store = FaultInjectingStore(InMemoryObjectStore())
        store.failNext(.put, times: 2, with: .io)
        for _ in 0..<2 {
            do {
                try store.put("k", data: Data("v".utf8), metadata: [:])
                Issue.record("an injected failure was swallowed")
            } catch let e as VFSError {
                #expect(e.errno == EIO)
            }
        }
        try store.put("k", data: Data("v".utf8), metadata: [:])
        #expect(try store.read("k", range: 0..<1, etag: nil) == Data("v".utf8))
    }
}
