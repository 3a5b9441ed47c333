import NIOSSL

/// The gateway's HTTPS (`[gateway] tls_cert`, `tls_key`): read and checked when the daemon
/// starts, so a missing or wrong file stops `serve` with the file named before anything runs.
enum GatewayTLS {
    static func load(_ config: Config.Gateway, configFile: String) throws -> TLSConfiguration? {
        guard config.tls else { return nil }
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(config.tlsCert)
        } catch {
            throw DaemonError(.environment, "gateway.tls_cert \(config.tlsCert) is not a readable PEM certificate (\(error))",
                              fix: "give the certificate chain (PEM) in \(configFile)")
        }
        guard !chain.isEmpty else {
            throw DaemonError(.environment, "gateway.tls_cert \(config.tlsCert) holds no certificate", fix: "give the certificate chain (PEM) in \(configFile)")
        }
        do {
            key = try NIOSSLPrivateKey(file: config.tlsKey, format: .pem)
        } catch {
            throw DaemonError(.environment, "gateway.tls_key \(config.tlsKey) is not a readable PEM private key (\(error))",
                              fix: "give the certificate's private key (PEM, mode 0600) in \(configFile)")
        }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        return tls
    }
}
