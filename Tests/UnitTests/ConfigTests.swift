@testable import Daemon
import Testing

@Suite struct ConfigTests {
    @Test func renderedDefaultParsesBackToTheSameConfig() throws {
        var c = Config()
        c.metricsPort = 4904
        c.engine.weedPath = "/opt/weed \"quoted\""
        c.watchdog.intervalSeconds = 0.5
        #expect(try Config.parse(c.render(), file: "g.toml") == c)
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
        ("metrics_port = ", "g.toml:1: unsupported value"),
        ("metrics_port = 1\nmetrics_port = 2", "g.toml:2: key metrics_port defined twice"),
        ("listen_address = \"open", "g.toml:1: unterminated string"),
        ("just words", "g.toml:1: expected key = value"),
        ("[watchdog]\ninterval_seconds = 0", "interval_seconds = 0.0 must be between"),
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
