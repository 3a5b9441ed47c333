import Foundation
import Testing
import TestSupport

/// Every command's `--help` of both tools, on a wide terminal: a paragraph is one line (the
/// parser wraps it to the terminal), never a source file's hard wrap that the parser wraps again.
@Suite struct HelpTextTests {
    @Test func paragraphsAreLeftToTheParserToWrap() throws {
        // One shell walks every command (a process start from the test runner costs seconds):
        // each help text follows a line "== TOOL PATH".
        let walk = """
            walk() { local out; out=$(COLUMNS=400 "$@" --help) || { echo "== FAILED $*"; return; }
              printf '== %s\\n%s\\n' "$*" "$out"
              [ $# -lt 5 ] || return 0
              for sub in $(printf '%s\\n' "$out" | sed -n '/^SUBCOMMANDS:/,/^$/p' | sed -n 's/^  \\([a-z][a-z0-9-]*\\).*/\\1/p'); do
                [ "$sub" = help ] || walk "$@" "$sub"
              done; }
            walk "$0"; walk "$1"
            """
        let r = try DaemonHarness.runProcess("/bin/bash", ["-c", walk, DaemonHarness.locateBinary("garagetytus"), DaemonHarness.locateBinary("artifacts")],
                                             env: ProcessInfo.processInfo.environment, timeout: 120)
        #expect(r.status == 0 && !r.stdout.contains("== FAILED"), "\(r.stdout.suffix(500))\(r.stderr)")
        var ragged: [String] = []
        var command = ""
        var checked = 0
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for (a, b) in zip(lines, lines.dropFirst()) {
            if a.hasPrefix("== ") { command = String(a.dropFirst(3)); checked += 1; continue }
            // A sentence cut at the end of a line: the next line goes on in lower case, at the
            // same indentation (examples and option lists are indented).
            guard !a.hasPrefix(" "), !b.hasPrefix(" "), !b.hasPrefix("== "), let c = b.first, c.isLowercase,
                  let end = a.last, !".:;!?".contains(end) else { continue }
            ragged.append("\(command): \(a) / \(b)")
        }
        #expect(checked >= 50, "\(checked) help texts")
        #expect(ragged.isEmpty, "\(ragged.joined(separator: "\n"))")
    }
}
