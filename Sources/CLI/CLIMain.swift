import ArgumentParser
import Foundation

/// The executables' entry: ArgumentParser parses and runs, but a refused command line is one
/// line on stderr (the value cut short: a 64 KiB argument is not echoed back) with a pointer to
/// `--help`, and the usual exit code (64 for usage errors).
enum CLIMain {
    static func run<C: AsyncParsableCommand>(_ type: C.Type, _ arguments: [String]) async -> Never {
        do {
            var command = try type.parseAsRoot(arguments)
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
            exit(0)
        } catch {
            let code = type.exitCode(for: error)
            if code == .success {
                print(type.fullMessage(for: error))  // --help, --version
                exit(0)
            }
            let message = type.message(for: error)
            if !message.isEmpty {
                let first = message.split(separator: "\n").first.map(String.init) ?? message
                let line = first.hasPrefix("Error: ") ? String(first.dropFirst(7)) : first
                FileHandle.standardError.write(Data("error: \(shorten(line)) (see: \(commandPath(type, arguments)) --help)\n".utf8))
            }
            exit(code.rawValue)
        }
    }

    /// The command and the subcommands named at the start of `arguments`: "garagetytus bucket grant".
    static func commandPath(_ root: any ParsableCommand.Type, _ arguments: [String]) -> String {
        var names = [root._commandName]
        var current = root
        for arg in arguments {
            guard let sub = current.configuration.subcommands.first(where: { $0._commandName == arg }) else { break }
            names.append(arg)
            current = sub
        }
        return names.joined(separator: " ")
    }

    /// At most `max` characters, one line: a long middle (a huge value) is cut, the end (what to
    /// do) is kept.
    static func shorten(_ s: String, max: Int = 240) -> String {
        let flat = s.replacingOccurrences(of: "\n", with: "\\n")
        guard flat.count > max else { return flat }
        let tail = max / 2 - 10
        return String(flat.prefix(max - tail - 1)) + "…" + String(flat.suffix(tail))
    }
}

extension GaragetytusCommand {
    public static func main() async {
        await CLIMain.run(Self.self, Array(CommandLine.arguments.dropFirst()))
    }
}
