import Daemon
import Foundation
import S3
import Testing
import TestSupport

/// What a grant cannot reach, and what nobody else on the host can (issue 7's boundaries).
@Suite struct SecurityBoundaryTests {
    @Test func aGrantReachesOneBucketAndAReadOnlyGrantWritesNothing() throws {
        let h = try DaemonHarness(name: "secb")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("alpha")
        try h.createBucket("beta")
        let engine = try h.engineClient()
        try engine.put(bucket: "beta", key: "secret.txt", body: Data("beta only\n".utf8))
        try engine.put(bucket: "alpha", key: "a.txt", body: Data("alpha\n".utf8))
        let rw = try h.mintGrant("alpha")
        let ro = try h.mintGrant("alpha", perms: "read,list")

        // Every way into beta with alpha's grant is refused.
        let cross = try h.boto3(rw, """
            out = {
              'get': refused(lambda: s3.get_object(Bucket='beta', Key='secret.txt')),
              'head': refused(lambda: s3.head_object(Bucket='beta', Key='secret.txt')),
              'list': refused(lambda: s3.list_objects_v2(Bucket='beta')),
              'put': refused(lambda: s3.put_object(Bucket='beta', Key='x', Body=b'x')),
              'delete': refused(lambda: s3.delete_object(Bucket='beta', Key='secret.txt')),
              'copy_from_beta': refused(lambda: s3.copy_object(Bucket='alpha', Key='stolen', CopySource='beta/secret.txt')),
            }
            mp = s3.create_multipart_upload(Bucket='alpha', Key='stolen-mp')
            out['part_copy_from_beta'] = refused(lambda: s3.upload_part_copy(Bucket='alpha', Key='stolen-mp', UploadId=mp['UploadId'],
                                                                               PartNumber=1, CopySource='beta/secret.txt'))
            s3.abort_multipart_upload(Bucket='alpha', Key='stolen-mp', UploadId=mp['UploadId'])
            out['buckets'] = [b['Name'] for b in s3.list_buckets()['Buckets']]
            print(json.dumps(out))
            """)
        let c = try #require(try JSONSerialization.jsonObject(with: Data(cross.stdout.utf8)) as? [String: Any], "\(cross.stdout) \(cross.stderr)")
        for k in ["get", "head", "list", "put", "delete", "copy_from_beta", "part_copy_from_beta"] { #expect(c[k] as? Bool == true, "\(k)") }
        #expect(c["buckets"] as? [String] == ["alpha"])

        // A read-only grant cannot write through any operation.
        let write = try h.boto3(ro, """
            out = {
              'put': refused(lambda: s3.put_object(Bucket='alpha', Key='w', Body=b'w')),
              'copy': refused(lambda: s3.copy_object(Bucket='alpha', Key='w2', CopySource='alpha/a.txt')),
              'mpu': refused(lambda: s3.create_multipart_upload(Bucket='alpha', Key='w3')),
              'delete': refused(lambda: s3.delete_object(Bucket='alpha', Key='a.txt')),
              'delete_many': refused(lambda: s3.delete_objects(Bucket='alpha', Delete={'Objects': [{'Key': 'a.txt'}]})),
              'create_bucket': refused(lambda: s3.create_bucket(Bucket='alpha')),
              'read': s3.get_object(Bucket='alpha', Key='a.txt')['Body'].read().decode(),
            }
            print(json.dumps(out))
            """)
        let w = try #require(try JSONSerialization.jsonObject(with: Data(write.stdout.utf8)) as? [String: Any], "\(write.stdout) \(write.stderr)")
        for k in ["put", "copy", "mpu", "delete", "delete_many", "create_bucket"] { #expect(w[k] as? Bool == true, "\(k)") }
        #expect(w["read"] as? String == "alpha\n")
        #expect(try engine.listAll(bucket: "alpha").objects.map(\.key) == ["a.txt"])
        #expect(try engine.listAll(bucket: "beta").objects.map(\.key) == ["secret.txt"])
    }

    @Test func theControlSocketAndSecretsAreClosedToOthers() throws {
        let h = try DaemonHarness(name: "secf")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("files")
        _ = try h.mintGrant("files")
        func mode(_ path: String) -> mode_t {
            var st = stat()
            return stat(path, &st) == 0 ? st.st_mode & 0o777 : 0o7777
        }
        #expect(mode(h.paths.controlSocket) == 0o600)
        #expect(mode(h.paths.identityFile) == 0o600)
        #expect(mode(h.paths.stateDB) == 0o600)  // holds the grants' secrets
        // An unprivileged user cannot use the control socket: curl, run as nobody, cannot connect
        // (exit 7), while the same command run as root gets the status.
        let curl = ["/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", h.paths.controlSocket, "http://x/v1/status"]
        let root = try DaemonHarness.runProcess(curl[0], Array(curl.dropFirst()), env: [:], timeout: 10)
        #expect(root.status == 0 && root.stdout == "200", "\(root.status) \(root.stdout) \(root.stderr)")
        let nobody = try DaemonHarness.runProcess("/usr/sbin/runuser", ["-u", "nobody", "--"] + curl, env: [:], timeout: 10)
        #expect(nobody.status == 7 && nobody.stdout == "000", "\(nobody.status) \(nobody.stdout) \(nobody.stderr)")
        // Every TCP socket the daemon listens on binds 127.0.0.1 (the engine's: EngineSealTests):
        // its listening sockets found by inode in /proc/net/tcp{,6}.
        let fds = "/proc/\(try h.daemonPID())/fd"
        let inodes = Set(try FileManager.default.contentsOfDirectory(atPath: fds).compactMap { fd -> String? in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: fds + "/" + fd), target.hasPrefix("socket:[") else { return nil }
            return String(target.dropFirst(8).dropLast())
        })
        var listening: [(local: String, port: Int)] = []
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            for line in try String(contentsOfFile: table, encoding: .utf8).split(separator: "\n").dropFirst() {
                let f = line.split(separator: " ")
                guard f.count > 9, f[3] == "0A", inodes.contains(String(f[9])) else { continue }
                let local = f[1].split(separator: ":")
                listening.append((String(local[0]), Int(local[1], radix: 16) ?? -1))
            }
        }
        #expect(Set(listening.map(\.port)).isSuperset(of: [h.config.gatewayPort, h.config.metricsPort]), "\(listening)")
        #expect(listening.allSatisfy { $0.local == "0100007F" }, "listeners not on 127.0.0.1: \(listening)")
    }
}
