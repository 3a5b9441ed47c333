@testable import Daemon
import Testing

@Suite struct ConfigTests {
    @Test func renderedDefaultParsesBackToTheSameConfig() throws {
        var c = Config()
        c.metricsPort = 4904
        c.engine.weedPath = "/opt/weed \"quoted\"\u{1}\t\\"
        c.watchdog.intervalSeconds = 0.5
        #expect(try Config.parse(c.render(), file: "g.toml") == c)
    }

    @Test func aClusterIsConfiguredWithArraysAndTables() throws {
        let c = try Config.parse("""
            [engine]
            kind = "cluster"   # no engine of our own
            masters = [
              "10.77.0.1:9333",
              "10.77.0.2:9333",
            ]
            filer = "10.77.0.1:8888"
            s3_endpoint = "https://10.77.0.1:8333"
            identity_file = "/etc/garagetytus/engine-identity.json"
            """, file: "g.toml")
        #expect(c.engine.isCluster)
        #expect(c.engine.masters == ["10.77.0.1:9333", "10.77.0.2:9333"])
        #expect(c.engine.filer == "10.77.0.1:8888" && c.engine.s3Endpoint == "https://10.77.0.1:8333")
        #expect(try Config.parse(c.render(), file: "g.toml") == c)
        #expect(!c.hostPorts.contains { $0.key.hasPrefix("engine.") }, "a cluster's ports are not on this host")
    }

    @Test func emptyFileMeansDefaults() throws {
        #expect(try Config.parse("", file: "g.toml") == Config())
    }

    @Test func valuesAreRead() throws {
        let c = try Config.parse("""
            metrics_port = 5904 # comment
            [watchdog]
            interval_seconds = 2
            ro_below_pct = 5.5
            rw_above_pct = 20
            [engine]
            weed_path = "/x/#notacomment"
            s3_port = 7000
            """, file: "g.toml")
        #expect(c.metricsPort == 5904)
        #expect(c.watchdog.intervalSeconds == 2)
        #expect(c.watchdog.roBelowPct == 5.5)
        #expect(c.engine.weedPath == "/x/#notacomment")
        #expect(c.engine.s3Port == 7000)
    }

    @Test(arguments: [
        ("metric_port = 1", "g.toml:1: unknown key metric_port"),
        ("metrics_port = \"x\"", "g.toml:1: metrics_port must be an integer, not a string"),
        ("[engine]\ns3_port = 0", "s3_port = 0 is not a port"),
        ("[engine]\ns3_port = 3904", "engine.s3_port and metrics_port are both 3904"),
        ("[watchdog]\nro_below_pct = 20", "thresholds must satisfy"),
        ("[nope]\na = 1", "unknown table [nope]"),
        ("metrics_port = ", "g.toml:1: Error while parsing key-value pair"),
        ("metrics_port = 1\nmetrics_port = 2", "g.toml:2: Error while parsing key-value pair: cannot redefine existing integer 'metrics_port'"),
        ("listen_address = \"open", "g.toml:1: Error while parsing string"),
        ("just words", "g.toml:1: Error while parsing key-value pair: expected '='"),
        ("[watchdog]\ninterval_seconds = 0", "interval_seconds = 0.0 must be between"),
        ("[engine]\nkind = \"swarm\"", "engine.kind = \"swarm\" must be \"embedded\" or \"cluster\""),
        ("[engine]\nkind = \"cluster\"", "engine.masters must list the cluster's master(s)"),
        ("[engine]\nkind = \"cluster\"\nmasters = [\"m1\"]", "engine.masters: \"m1\" is not host:port"),
        ("[engine]\nmasters = \"m1:9333\"", "g.toml:2: engine.masters must be an array of strings, not a string"),
        ("[engine]\nmasters = [\n  \"m1:9333\",\n  9334,\n]", "g.toml:2: engine.masters must be an array of strings, not a integer"),
        ("[engine]\nmasters = [\n  \"m1:9333\",\n]\nfiler_port2 = 1", "g.toml:5: unknown key engine.filer_port2"),
        ("[engine]\nkind = \"cluster\"\nmasters = [\"m1:9333\"]\nfiler = \"f:8888\"\ns3_endpoint = \"ftp://x:1\"",
         "engine.s3_endpoint = \"ftp://x:1\" must be http://host:port"),
        ("[engine]\nkind = \"cluster\"\nmasters = [\"m1:9333\"]\nfiler = \"f:8888\"\ns3_endpoint = \"http://s:8333\"\nidentity_file = \"id.json\"",
         "engine.identity_file must be the absolute path"),
        ("[engine.tls]\ncert = \"x\"", "g.toml:2: unknown table [engine.tls]"),
        ("when = 1979-05-27", "g.toml:1: unknown key when"),
    ])
    func badInputIsRefusedWithFileAndReason(text: String, expected: String) {
        do {
            _ = try Config.parse(text, file: "g.toml")
            Issue.record("accepted: \(text)")
        } catch let e as DaemonError {
            #expect(e.code == .corrupt)
            #expect(e.description.contains(expected), "\(e.description)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}

extension ConfigTests {
    /// Plain HTTP stays on loopback; other hosts get the gateway over HTTPS only.
    @Test(arguments: [
        ("listen_address = \"10.77.0.2\"", "listen_address \"10.77.0.2\" is reachable from other hosts: plain HTTP stays on loopback"),
        ("listen_address = \"0.0.0.0\"", "is reachable from other hosts"),
        ("[gateway]\ntls_cert = \"/etc/gt/cert.pem\"", "gateway.tls_cert and gateway.tls_key go together"),
        ("[gateway]\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"", "must be absolute paths of PEM files"),
    ])
    func aGatewayForOtherHostsNeedsTLS(text: String, expected: String) {
        #expect(throws: DaemonError.self) { try Config.parse(text, file: "g.toml") }
        do { _ = try Config.parse(text, file: "g.toml") } catch { #expect("\(error)".contains(expected), "\(error)") }
    }

    @Test func withACertificateTheGatewayServesOtherHostsOverHTTPS() throws {
        let c = try Config.parse("listen_address = \"10.77.0.2\"\n[gateway]\ntls_cert = \"/c.pem\"\ntls_key = \"/k.pem\"", file: "g.toml")
        #expect(c.gatewayURL == "https://10.77.0.2:3900")
        #expect(c.metricsAddress == "127.0.0.1", "metrics and health stay plain HTTP on loopback")
        #expect(try Config.parse("", file: "g.toml").gatewayURL == "http://127.0.0.1:3900")
    }
}
