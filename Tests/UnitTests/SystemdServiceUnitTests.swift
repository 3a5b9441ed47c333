import Daemon
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `service install` / `uninstall` against a recording stand-in for systemctl (systemd itself does
/// not run in a container): what is written, what systemd is asked, idempotence and refusals.
@Suite struct SystemdServiceUnitTests {
    let dir = NSTemporaryDirectory() + "gt-sd-\(UUID().uuidString)"

    func setUp(userManager: Bool = true, failing: Bool = false) throws -> (Systemctl, [String: String]) {
        try FileManager.default.createDirectory(atPath: dir + "/booted", withIntermediateDirectories: true)
        if userManager { try FileManager.default.createDirectory(atPath: dir + "/run/systemd", withIntermediateDirectories: true) }
        let script = "#!/bin/sh\necho \"$*\" >> '\(dir)/calls'\n" + (failing ? "echo 'Failed to connect to bus' >&2; exit 1\n" : "")
        try script.write(toFile: dir + "/systemctl", atomically: true, encoding: .utf8)
        chmod(dir + "/systemctl", 0o755)
        let env = ["HOME": dir + "/home", "XDG_RUNTIME_DIR": dir + "/run"]
        return (Systemctl(bootedMarker: dir + "/booted", program: dir + "/systemctl", environment: env), env)
    }

    func calls() -> [String] {
        ((try? String(contentsOfFile: dir + "/calls", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    @Test func installWritesTheUnitEnablesItAndIsIdempotentAsIsUninstall() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (ctl, env) = try setUp()
        let s = try SystemdService(scope: .user, executable: "/opt/gt/garagetytus", environment: env, watchdogInterval: 10, systemctl: ctl)
        #expect(s.unitPath == dir + "/home/.config/systemd/user/garagetytus.service")
        #expect(try s.install() == .installed)
        #expect(try String(contentsOfFile: s.unitPath, encoding: .utf8) == s.unit)
        #expect((try FileManager.default.attributesOfItem(atPath: s.unitPath)[.posixPermissions] as? Int) == 0o644)
        #expect(calls() == ["--user daemon-reload", "--user enable --now garagetytus.service"])
        #expect(try s.install() == .unchanged)
        #expect(calls().count == 3 && calls().last == "--user enable --now garagetytus.service")
        let st = s.status()
        #expect(st.installed && st.systemd && calls().suffix(2) == ["--user is-enabled garagetytus.service", "--user is-active garagetytus.service"])
        #expect(try s.uninstall())
        #expect(!FileManager.default.fileExists(atPath: s.unitPath))
        #expect(calls().suffix(2) == ["--user disable --now garagetytus.service", "--user daemon-reload"])
        #expect(try !s.uninstall())
        #expect(calls().count == 7, "nothing asked of systemd when nothing is installed")
    }

    @Test func theWatchdogAllowsThreeMissedTicksAndSystemdsFailuresAreReported() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (ctl, env) = try setUp(failing: true)
        let slow = try SystemdService(scope: .system, executable: "/usr/bin/garagetytus", environment: env, watchdogInterval: 60, systemctl: ctl)
        #expect(slow.unit.contains("WatchdogSec=180") && slow.unit.contains("WantedBy=multi-user.target"))
        #expect(slow.unitPath == "/etc/systemd/system/garagetytus.service")
        let s = try SystemdService(scope: .user, executable: "/usr/bin/garagetytus", environment: env, watchdogInterval: 10, systemctl: ctl)
        #expect(s.unit.contains("WatchdogSec=30") && s.unit.contains("WantedBy=default.target") && !s.unit.contains("Environment="))
        #expect { try s.install() } throws: { e in
            "\(e)".contains("systemctl --user daemon-reload failed: Failed to connect to bus")
        }
    }

    @Test func aUserUnitNeedsTheUsersManagerAndNamesWithLineBreaksAreRefused() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (ctl, env) = try setUp(userManager: false)
        let s = try SystemdService(scope: .user, executable: "/usr/bin/garagetytus", environment: env, watchdogInterval: 10, systemctl: ctl)
        #expect { try s.install() } throws: { e in "\(e)".contains("the user's systemd manager is not running") }
        #expect(!FileManager.default.fileExists(atPath: s.unitPath))
        #expect(calls().isEmpty)
        #expect(throws: DaemonError.self) {
            try SystemdService(scope: .user, executable: "/usr/bin/garagetytus", environment: env.merging(["GARAGETYTUS_HOME": "/a\nb"]) { $1 },
                               watchdogInterval: 10, systemctl: ctl)
        }
    }
}
