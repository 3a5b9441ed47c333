import Daemon
import Foundation
import S3

/// Test helpers for the S3 front door: mint grants through the CLI, run aws-cli and boto3 with a
/// grant's keys against the gateway, move expiries close through the test hook.
extension DaemonHarness {
    public var gatewayURL: String { "http://127.0.0.1:\(config.gatewayPort)" }

    /// `start` with the test hooks on (required by `expireSoon`).
    public func startWithHooks() throws -> Result {
        try run(["start"], env: ["GARAGETYTUS_TEST_HOOKS": "1"])
    }

    public func createBucket(_ name: String, ttl: String = "24h", quota: String = "1G") throws {
        let r = try run(["bucket", "create", name, "--ttl", ttl, "--quota", quota])
        guard r.status == 0 else { throw HarnessError("bucket create \(name) failed: \(r.stderr)") }
    }

    public func mintGrant(_ bucket: String, perms: String = "read,write,list,delete", ttl: String = "1h", to: String = "test") throws -> GrantEnvelope {
        let r = try run(["bucket", "grant", bucket, "--to", to, "--perms", perms, "--ttl", ttl, "--json"])
        guard r.status == 0 else { throw HarnessError("bucket grant \(bucket) failed: \(r.stderr)") }
        return try JSONDecoder().decode(GrantEnvelope.self, from: Data(r.stdout.utf8))
    }

    /// aws-cli against the gateway with the grant's keys.
    public func aws(_ grant: GrantEnvelope, _ args: [String], timeout: Double = 120) throws -> Result {
        try Self.runProcess("/usr/bin/env", ["aws", "--endpoint-url", gatewayURL] + args, env: Self.awsEnv(grant), timeout: timeout)
    }

    /// A Python snippet with `s3` (a boto3 client on the gateway with the grant's keys) and
    /// `refused(f)` (whether calling f got a 403) in scope.
    public func boto3(_ grant: GrantEnvelope, _ code: String, timeout: Double = 120) throws -> Result {
        let prelude = """
            import boto3, botocore, json, sys
            from botocore.config import Config
            s3 = boto3.client('s3', endpoint_url='\(gatewayURL)', config=Config(signature_version='s3v4', s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
            def refused(f):
                try:
                    f(); return False
                except botocore.exceptions.ClientError as e:
                    return e.response['ResponseMetadata']['HTTPStatusCode'] == 403
            """
        return try Self.runProcess("/usr/bin/env", ["python3", "-c", prelude + "\n" + code], env: Self.awsEnv(grant), timeout: timeout)
    }

    static func awsEnv(_ grant: GrantEnvelope) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["AWS_ACCESS_KEY_ID"] = grant.accessKey
        env["AWS_SECRET_ACCESS_KEY"] = grant.secretKey
        env["AWS_DEFAULT_REGION"] = "us-east-1"
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        env.removeValue(forKey: "AWS_ENDPOINT_URL")
        return env
    }

    /// Moves a grant's or bucket's expiry to `seconds` from now (daemon started with hooks).
    public func expireSoon(grant: String? = nil, bucket: String? = nil, in seconds: Double) throws {
        var body: [String: Any] = ["in_seconds": seconds]
        if let grant { body["grant"] = grant }
        if let bucket { body["bucket"] = bucket }
        let r = try CurlHTTP.perform(HTTPRequest(method: "POST", url: "http://garagetytus/v1/test/expiry", headers: [("Content-Type", "application/json")],
                                                 body: try JSONSerialization.data(withJSONObject: body), unixSocket: paths.controlSocket))
        guard r.status == 200 else { throw HarnessError("expiry hook answered \(r.status): \(r.text)") }
    }

    /// A plain GET of a (presigned) URL: status and body.
    public static func fetch(_ url: String, method: String = "GET") -> (status: Int, body: String) {
        guard let r = try? CurlHTTP.perform(HTTPRequest(method: method, url: url, timeout: 10)) else { return (0, "") }
        return (r.status, r.text)
    }
}

public struct HarnessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
