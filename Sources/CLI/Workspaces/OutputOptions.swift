import ArgumentParser

/// `--format text|json` (artifacts' global option, accepted before the subcommand too).
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

struct FormatOption: ParsableArguments {
    @Option(help: "Output format: text or json.") var format: OutputFormat = .text
    var json: Bool { format == .json }
}

enum GlobalOptions {
    /// `artifacts --format json workspace list` → `workspace list --format json`.
    static func hoistFormat(_ args: [String]) -> [String] {
        guard let first = args.first else { return args }
        if first.hasPrefix("--format=") { return Array(args.dropFirst()) + [first] }
        if first == "--format", args.count >= 2 { return Array(args.dropFirst(2)) + Array(args.prefix(2)) }
        return args
    }
}
