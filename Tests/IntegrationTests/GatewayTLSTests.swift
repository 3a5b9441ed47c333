import Daemon
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `[gateway] tls_cert`, `tls_key`: the front door over HTTPS (what lets it listen where other
/// hosts reach it), trusted by aws-cli and by mounts given its CA; nothing over plain HTTP.
@Suite struct GatewayTLSTests {
    @Test func theGatewayServesHTTPSAndMountsTrustItsCA() throws {
        let dir = try DaemonHarness.makeTempDir(prefix: "/tmp/gt-tlsc-")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let certs = try TestCertificates(in: dir, ip: "127.0.0.1")
        let h = try DaemonHarness(name: "tls") { c in
            c.gateway.tlsCert = certs.cert
            c.gateway.tlsKey = certs.key
        }
        defer { _ = try? h.run(["stop"]) }
        let started = try h.run(["start"])
        try #require(started.status == 0, "\(started.stderr)")
        try h.createBucket("secure")
        let grant = try h.mintGrant("secure")
        let https = "https://127.0.0.1:\(h.config.gatewayPort)"
        #expect(grant.endpointURL == https, "a grant names the endpoint clients use")

        // aws-cli with the CA: a PUT and a GET over HTTPS.
        var env = ProcessInfo.processInfo.environment
        (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_DEFAULT_REGION"]) = (grant.accessKey, grant.secretKey, "us-east-1")
        let file = dir + "/hello.txt"
        try "over TLS\n".write(toFile: file, atomically: true, encoding: .utf8)
        let put = try DaemonHarness.runProcess("/usr/bin/env", ["aws", "--endpoint-url", https, "--ca-bundle", certs.ca, "s3", "cp", file, "s3://secure/hello.txt"],
                                               env: env, timeout: 120)
        #expect(put.status == 0, "\(put.stderr)")
        // Without the CA the client refuses the certificate; plain HTTP gets no S3 answer.
        let untrusted = try DaemonHarness.runProcess("/usr/bin/env", ["aws", "--endpoint-url", https, "s3", "ls", "s3://secure/"], env: env, timeout: 120)
        #expect(untrusted.status != 0 && untrusted.stderr.lowercased().contains("certificate"), "\(untrusted.stderr)")
        let plain = DaemonHarness.fetch("http://127.0.0.1:\(h.config.gatewayPort)/secure")
        #expect(plain.status == 0 || plain.status == 400, "plain HTTP answered \(plain.status): \(plain.body)")

        // A mount over HTTPS with --ca-file; without it, `mount` says why it cannot connect.
        let creds = h.home + "/grant.json"
        try JSONEncoder().encode(grant).write(to: URL(fileURLWithPath: creds))
        chmod(creds, 0o600)
        let mnt = h.home + "/mnt"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        let refused = try h.run(["mount", "--endpoint", https, "--bucket", "secure", "--credentials-file", creds, mnt])
        #expect(refused.status != 0 && refused.stderr.contains("cannot reach \(https)"), "\(refused.stderr)")
        let mounted = try h.run(["mount", "--endpoint", https, "--bucket", "secure", "--credentials-file", creds, "--ca-file", certs.ca, mnt])
        try #require(mounted.status == 0, "\(mounted.stderr)")
        defer { h.forceUnmount(mnt) }
        #expect(try String(contentsOfFile: mnt + "/hello.txt", encoding: .utf8) == "over TLS\n")
        try Data("from the mount\n".utf8).write(to: URL(fileURLWithPath: mnt + "/back.txt"))
        let get = try DaemonHarness.runProcess("/usr/bin/env", ["aws", "--endpoint-url", https, "--ca-bundle", certs.ca, "s3", "cp", "s3://secure/back.txt", "-"],
                                               env: env, timeout: 120)
        #expect(get.stdout == "from the mount\n", "\(get.stderr)")
        #expect(try h.run(["unmount", mnt]).status == 0)
    }

    @Test func aCertificateThatCannotBeReadStopsStartAndSaysWhich() throws {
        let h = try DaemonHarness(name: "tlsb") { c in
            c.gateway.tlsCert = "/nonexistent/gateway.pem"
            c.gateway.tlsKey = "/nonexistent/gateway-key.pem"
        }
        defer { _ = try? h.run(["stop"]) }
        let r = try h.run(["start"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("gateway.tls_cert /nonexistent/gateway.pem is not a readable PEM certificate"), "\(r.stderr)")
    }
}
