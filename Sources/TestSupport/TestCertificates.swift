import Foundation

/// A throwaway CA and a server certificate it signed for one IP address (openssl), for a gateway
/// that serves HTTPS: `ca` is what clients trust (`--ca-file`, aws-cli's `--ca-bundle`).
public struct TestCertificates: Sendable {
    public let ca: String
    public let cert: String
    public let key: String

    public init(in dir: String, ip: String) throws {
        ca = dir + "/ca.pem"
        cert = dir + "/gateway.pem"
        key = dir + "/gateway-key.pem"
        let script = """
            set -e
            cd '\(dir)'
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 2 -subj '/CN=garagetytus test CA' 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -keyout gateway-key.pem -out gateway.csr -subj '/CN=\(ip)' 2>/dev/null
            printf 'subjectAltName=IP:\(ip)\\nbasicConstraints=CA:FALSE\\nkeyUsage=digitalSignature,keyEncipherment\\nextendedKeyUsage=serverAuth\\n' > ext.cnf
            openssl x509 -req -in gateway.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out gateway.pem -days 2 -extfile ext.cnf 2>/dev/null
            chmod 600 gateway-key.pem ca-key.pem
            """
        let r = try DaemonHarness.runProcess("/bin/sh", ["-c", script], env: ProcessInfo.processInfo.environment, timeout: 60)
        guard r.status == 0 else { throw HarnessError("openssl could not make test certificates: \(r.stderr)") }
    }
}
