import Foundation
@testable import S3
import Testing
import TestSupport

@Suite struct S3ClientRetryTests {
    let creds = S3Credentials(accessKeyID: "AK", secretAccessKey: "SK")

    @Test func throttlingAndServerErrorsAreRetriedUntilSuccess() throws {
        let server = try CannedHTTPServer(statuses: [503, 500, 200])
        defer { server.close() }
        let client = S3Client(endpoint: URL(string: "http://127.0.0.1:\(server.port)")!, credentials: creds,
                              retry: RetryPolicy(maxAttempts: 5, baseDelay: 0.01))
        let r = try client.send("GET", operation: "ListBuckets")
        #expect(r.status == 200)
        #expect(server.requests == 3)
    }

    @Test func retriesStopAtMaxAttemptsWithTheLastError() throws {
        let server = try CannedHTTPServer(statuses: [503])
        defer { server.close() }
        let client = S3Client(endpoint: URL(string: "http://127.0.0.1:\(server.port)")!, credentials: creds,
                              retry: RetryPolicy(maxAttempts: 3, baseDelay: 0.01))
        do {
            _ = try client.send("GET", operation: "ListBuckets")
            Issue.record("a 503 was reported as success")
        } catch let e as S3Error {
            #expect(e.kind == .throttled)
            #expect(e.code == "SlowDown")
            #expect(e.description.contains("ListBuckets: HTTP 503 SlowDown canned 503"))
        }
        #expect(server.requests == 3)
    }

    @Test func nonIdempotentRequestsAreNotRetried() throws {
        let server = try CannedHTTPServer(statuses: [500, 200])
        defer { server.close() }
        let client = S3Client(endpoint: URL(string: "http://127.0.0.1:\(server.port)")!, credentials: creds,
                              retry: RetryPolicy(maxAttempts: 5, baseDelay: 0.01))
        #expect(throws: S3Error.self) { _ = try client.send("POST", operation: "CreateMultipartUpload", idempotent: false) }
        #expect(server.requests == 1)
    }

    @Test func clientErrorsAreNotRetriedAndRefusedConnectionsAreTransport() throws {
        let server = try CannedHTTPServer(statuses: [404])
        let client = S3Client(endpoint: URL(string: "http://127.0.0.1:\(server.port)")!, credentials: creds,
                              retry: RetryPolicy(maxAttempts: 5, baseDelay: 0.01))
        #expect(s3ErrorKind { _ = try client.send("GET", operation: "GetObject") } == .notFound)
        #expect(server.requests == 1)
        server.close()
        let dead = S3Client(endpoint: URL(string: "http://127.0.0.1:\(server.port)")!, credentials: creds,
                            retry: RetryPolicy(maxAttempts: 2, baseDelay: 0.01))
        #expect(s3ErrorKind { _ = try dead.send("GET", operation: "GetObject") } == .transport)
    }

    @Test func backoffIsBoundedFullJitter() {
        let p = RetryPolicy(maxAttempts: 10, baseDelay: 0.1, maxDelay: 5)
        #expect(p.delay(afterAttempt: 1, unit: 0.999) < 0.1)
        #expect(p.delay(afterAttempt: 4, unit: 0.5) == 0.4)
        #expect(p.delay(afterAttempt: 20, unit: 0.999) <= 5)
        #expect(p.delay(afterAttempt: 3, unit: 0) == 0)
    }

    /// Half fixed, half random: the waits of all retries add up to at least half their steps.
    @Test func aFixedFractionBoundsTheWaitFromBelow() {
        let p = RetryPolicy(maxAttempts: 5, baseDelay: 1, maxDelay: 5, fixedFraction: 0.5)
        #expect((1...4).map { p.delay(afterAttempt: $0, unit: 0) } == [0.5, 1, 2, 2.5])
        #expect((1...4).map { p.delay(afterAttempt: $0, unit: 0.999_999) }.reduce(0, +) < 12)
    }

    /// The daemon's read-only refusal (disk low) is not retried: it lasts longer than retries wait.
    @Test func theDaemonsReadOnlyRefusalIsNotRetried() {
        let ro = S3Error.from(status: 503, code: "ServiceUnavailable", message: S3Error.daemonReadOnlyPrefix + ": disk free 8 %", operation: "PutObject")
        #expect(ro.isDaemonReadOnly && !ro.isRetryable)
        #expect(S3Error.from(status: 503, code: "SlowDown", message: nil, operation: "PutObject").isRetryable)
    }
}

/// The kind of S3Error `body` throws, or nil when it does not throw one.
func s3ErrorKind(_ body: () throws -> Void) -> S3Error.Kind? {
    do { try body() } catch let e as S3Error { return e.kind } catch { return nil }
    return nil
}
