import Foundation
import Mount
import Testing
import TestSupport

@Suite struct ObjectStoreTests {
    @Test func inMemoryStoreKeepsTheContract() {
        #expect(StoreContract.check(InMemoryObjectStore(), prefix: "") == [])
        #expect(StoreContract.check(InMemoryObjectStore(), prefix: "some/prefix/") == [])
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
