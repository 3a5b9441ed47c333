import Daemon
import Foundation
import Testing
import TestSupport

/// `garagetytus bucket …` refuses bad input with one line and a non-zero exit, and changes nothing.
@Suite struct BucketCLIBadInputTests {
    @Test func everyRefusalIsOneLineNonZeroAndChangesNothing() throws {
        let h = try DaemonHarness(name: "bcli")
        defer { _ = try? h.run(["stop"]) }
        // Without a daemon: exit 3, what to do.
        let down = try h.run(["bucket", "list"])
        #expect(down.status == 3 && down.stderr.contains("garagetytus start"), "\(down.stderr)")
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("kept")
        let g = try h.mintGrant("kept")

        let refused: [([String], String)] = [
            (["bucket", "create", "new1", "--ttl", "1d", "--quota", "1G"], "invalid TTL \"1d\""),
            (["bucket", "create", "new1", "--ttl", "60m", "--quota", "1G"], "invalid TTL \"60m\""),
            (["bucket", "create", "new1", "--ttl", "1h", "--quota", "1.5G"], "invalid quota \"1.5G\""),
            (["bucket", "create", "new1", "--ttl", "permanent", "--quota", "1G"], "--confirm-yes-really"),
            (["bucket", "create", "new1", "--ttl", "1h", "--quota", "unlimited"], "--confirm-yes-really"),
            (["bucket", "create", "Bad_Name", "--ttl", "1h", "--quota", "1G"], "invalid bucket name"),
            (["bucket", "create", "192.168.1.1", "--ttl", "1h", "--quota", "1G"], "IPv4"),
            (["bucket", "create", "kept", "--ttl", "1h", "--quota", "1G"], "already exists"),
            (["bucket", "info", "nosuch"], "no bucket named \"nosuch\""),
            (["bucket", "deny-all", "kept", "--ttl", "permanent"], "cannot be permanent"),
            (["bucket", "deny-all", "nosuch", "--ttl", "1h"], "no bucket named"),
            (["bucket", "grant", "kept", "--to", "x", "--perms", "read,admin", "--ttl", "1h"], "invalid --perms"),
            (["bucket", "grant", "kept", "--to", "x", "--perms", "read", "--ttl", "permanent"], "cannot be permanent"),
            (["bucket", "grant", "nosuch", "--to", "x", "--perms", "read", "--ttl", "1h"], "no bucket named"),
            (["bucket", "revoke", "g_20261123_00000000"], "no grant with id"),
            (["bucket", "revoke", "not-a-grant"], "invalid grant id"),
            (["bucket", "expire"], "needs a bucket name"),
        ]
        for (args, message) in refused {
            let r = try h.run(args)
            #expect(r.status == 64, "\(args): exit \(r.status)")
            #expect(r.stderr.hasPrefix("error: ") && r.stderr.split(separator: "\n").count == 1 && r.stderr.contains(message),
                    "\(args): \(r.stderr)")
        }
        #expect(try h.run(["bucket", "revoke", g.grantID]).status == 0)
        let twice = try h.run(["bucket", "revoke", g.grantID])
        #expect(twice.status == 64 && twice.stderr.contains("already revoked"))
        // Nothing else changed: the one bucket, the one grant (now revoked), no new bucket in the engine.
        let buckets = try JSONDecoder().decode([BucketInfo].self, from: Data(try h.run(["bucket", "list", "--json"]).stdout.utf8))
        #expect(buckets.map(\.name) == ["kept"])
        let grants = try JSONDecoder().decode([GrantInfo].self, from: Data(try h.run(["bucket", "grants", "--json"]).stdout.utf8))
        #expect(grants.map(\.state) == ["revoked"])
        #expect((try? h.engineClient().listAll(bucket: "new1")) == nil)
        // The grant limit names the limit and when it frees up.
        for i in 0..<20 { _ = try h.mintGrant("kept", to: "n\(i)") }
        let limit = try h.run(["bucket", "grant", "kept", "--to", "one-too-many", "--perms", "read", "--ttl", "1h"])
        #expect(limit.status != 0 && limit.stderr.contains("at most 20 active grants") && limit.stderr.contains("frees up at"), "\(limit.stderr)")
    }
}
