import Daemon
import Foundation
import S3
import Testing
import TestSupport

/// `garagetytus dashboard`: a one-time link, a page that shows the daemon, its buckets and grants
/// (never a secret), this host's mounts, audit events and traffic, in a real headless browser.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium"), "needs Debian's chromium (scripts/setup.sh --tests)"))
struct DashboardTests {
    func chromium(_ args: [String]) throws -> DaemonHarness.Result {
        let profile = try DaemonHarness.makeTempDir(prefix: "/tmp/gt-chromium-")
        defer { try? FileManager.default.removeItem(atPath: profile) }
        return try DaemonHarness.runProcess("/usr/bin/chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                                                  "--user-data-dir=" + profile, "--virtual-time-budget=3000"] + args,
                                            env: ["HOME": profile, "PATH": "/usr/bin:/bin"], timeout: 120)
    }

    @Test func theDashboardShowsBucketsGrantsAndMountsBehindAOneTimeLink() throws {
        let h = try DaemonHarness(name: "dash")
        defer { _ = try? h.run(["stop"]) }
        #expect(try h.run(["start"]).status == 0)
        try h.createBucket("photos", ttl: "24h", quota: "1G")
        let g = try h.mintGrant("photos", perms: "read,list", to: "nightly-backup")
        _ = try h.aws(g, ["s3", "ls", "s3://photos"])  // some traffic for the charts
        let artifacts = DaemonHarness.locateBinary("artifacts")
        var env = ProcessInfo.processInfo.environment
        env["GARAGETYTUS_HOME"] = h.home
        #expect(try DaemonHarness.runProcess(artifacts, ["workspace", "create", "cases"], env: env, timeout: 60).status == 0)
        let mnt = h.home + "/mnt/work"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        defer { _ = try? DaemonHarness.runProcess(artifacts, ["unmount", mnt], env: env, timeout: 60) }
        let mounted = try DaemonHarness.runProcess(artifacts, ["mount", "cases", mnt], env: env, timeout: 60)
        try #require(mounted.status == 0, "\(mounted.stderr)")

        // Without the link's token: 401, with a reason.
        let base = "http://127.0.0.1:\(h.config.metricsPort)/dashboard"
        let anonymous = try CurlHTTP.perform(HTTPRequest(url: base, timeout: 10))
        #expect(anonymous.status == 401 && anonymous.text.contains("garagetytus dashboard"))
        #expect(try CurlHTTP.perform(HTTPRequest(url: base + "/panels", timeout: 10)).status == 401)
        func link() throws -> String {
            let r = try h.run(["dashboard", "--json"])
            let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            return try #require(obj?["url"] as? String, "\(r.stdout) \(r.stderr)")
        }
        let url = try link()
        #expect(url.hasPrefix(base + "?token="))
        let page = try CurlHTTP.perform(HTTPRequest(url: url, timeout: 10))
        #expect(page.status == 200)
        for shown in ["photos", "nightly-backup", "list,read", g.grantID, "cases", mnt, "bucket_created", "requests per minute"] {
            #expect(page.text.contains(shown), "\(shown) not on the page")
        }
        #expect(!page.text.contains(g.secretKey))
        // The token works once; the session cookie it set serves the refreshes.
        #expect(try CurlHTTP.perform(HTTPRequest(url: url, timeout: 10)).status == 401)
        let cookie = try #require(page.header("Set-Cookie")?.split(separator: ";").first.map(String.init))
        let panels = try CurlHTTP.perform(HTTPRequest(url: base + "/panels", headers: [("Cookie", cookie)], timeout: 10))
        #expect(panels.status == 200 && panels.text.contains("nightly-backup") && !panels.text.contains("<html"))

        // In a real browser: the script runs (the countdowns show time left), the mount is listed
        // as healthy; the screenshot is what the README shows.
        let dom = try chromium(["--dump-dom", try link()])
        #expect(dom.status == 0, "\(dom.stderr)")
        #expect(dom.stdout.range(of: #"data-expires="\d+">\d+h \d+m \d+s<"#, options: .regularExpression) != nil, "\(dom.stdout.prefix(2000))")
        #expect(dom.stdout.contains("photos") && dom.stdout.contains("\(mnt)</td><td>cases</td><td class=\"ok\">healthy"), "\(dom.stdout.prefix(3000))")
        let shot = h.home + "/dashboard.png"
        #expect(try chromium(["--screenshot=" + shot, "--window-size=1280,900", "--hide-scrollbars", try link()]).status == 0)
        let png = try Data(contentsOf: URL(fileURLWithPath: shot))
        #expect(png.count > 20_000 && png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "\(png.count) bytes")
        if let keep = ProcessInfo.processInfo.environment["GT_DASHBOARD_SCREENSHOT"] { try png.write(to: URL(fileURLWithPath: keep)) }
    }
}
