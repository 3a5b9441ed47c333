import Foundation

extension SeaweedEngine {
    /// `weed shell` inside a sealed engine's network namespace, with its `security.toml`.
    var weedShell: WeedShell {
        WeedShell(weedPath: weedPath, master: "127.0.0.1:\(config.masterPort).\(config.masterGrpcPort)",
                  filer: "127.0.0.1:\(config.filerPort).\(config.filerGrpcPort)", configDir: paths.engineDir,
                  isolation: { [self] in
                      guard config.sealed else { return .none }
                      return currentPID.map { .joining(pid: $0) } ?? .none
                  })
    }

    public func repair(budget: Duration) async -> [RepairStep] { await weedShell.repair(budget: budget) }

    public func reclaim(budget: Duration) async -> String { await weedShell.reclaim(budget: budget) }
}
