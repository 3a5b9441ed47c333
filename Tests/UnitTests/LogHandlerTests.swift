@testable import Daemon
import Foundation
import Logging
import Testing

/// The one log handler of the daemon and of every mount: its line format, and what it never writes.
@Suite struct LogHandlerTests {
    @Test func keysAreMaskedAndSecretsNeverWritten() throws {
        let file = NSTemporaryDirectory() + "loghandler-\(UUID().uuidString).log"
        defer { unlink(file) }
        let logger = Logger(label: "mount") { FileLogHandler(label: $0, sink: FileLogHandler.Sink(path: file, alsoStderr: false)) }
        logger.notice("mounted s3://b/ on /mnt/w", metadata: ["access_key_id": "GKAB0123456789WXYZ", "secret_access_key": "hunter2-long-secret",
                                                              "session_token": "tok-123", "bucket": "b"])
        logger.error("upload of a failed")
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines[0].range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z notice mount: mounted s3://b/ on /mnt/w "#, options: .regularExpression) != nil, "\(lines[0])")
        #expect(lines[0].hasSuffix("access_key_id=GKAB***WXYZ bucket=b secret_access_key=*** session_token=***"), "\(lines[0])")
        #expect(!lines.joined().contains("hunter2") && !lines.joined().contains("tok-123") && !lines.joined().contains("0123456789"))
        #expect(lines[1].contains(" error mount: upload of a failed"))
    }
}
