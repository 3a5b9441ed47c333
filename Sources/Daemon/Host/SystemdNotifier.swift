import CGaragetytus
import Foundation
import Logging
import ServiceLifecycle

/// The `sd_notify` protocol, for `garagetytus serve` under a `Type=notify` unit: `READY=1` once
/// every listener answers, `WATCHDOG=1` at each watchdog tick (`WatchdogSec=`), `STOPPING=1` when
/// a graceful stop begins. Without `$NOTIFY_SOCKET` (not started by systemd) there is none.
public struct SystemdNotifier: Sendable {
    let socket: String
    let logger: Logger

    /// The notifier of this process's environment; nil when systemd did not ask for one.
    public init?(environment: [String: String], logger: Logger) {
        guard let s = environment["NOTIFY_SOCKET"], !s.isEmpty else { return nil }
        socket = s
        self.logger = logger
    }

    /// How often systemd expects `WATCHDOG=1` (`$WATCHDOG_USEC`), when it does.
    public static func watchdogInterval(environment: [String: String]) -> Double? {
        guard let us = environment["WATCHDOG_USEC"].flatMap({ Double($0) }), us > 0 else { return nil }
        // WATCHDOG_PID, when set, names the process that is to send it.
        if let pid = environment["WATCHDOG_PID"].flatMap({ Int32($0) }), pid != getpid() { return nil }
        return us / 1_000_000
    }

    public func ready(status: String) { send("READY=1\nSTATUS=\(status)") }
    public func watchdog() { send("WATCHDOG=1") }
    public func stopping() { send("STOPPING=1\nSTATUS=stopping") }

    func send(_ message: String) {
        let rc = gt_sd_notify(socket, message)
        if rc != 0 { logger.warning("systemd notification \(message.prefix(while: { $0 != "\n" })) not sent to \(socket): \(String(cString: strerror(-rc)))") }
    }
}

/// Tells systemd `STOPPING=1` as a graceful stop begins (SIGTERM, SIGINT or `garagetytus stop`);
/// nothing without a notifier.
struct StoppingNotice: Service {
    let notifier: SystemdNotifier?

    func run() async throws {
        try? await gracefulShutdown()
        notifier?.stopping()
    }
}
