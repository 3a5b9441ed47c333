import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Progress of long work (`bucket expire`, `repair`, `migrate-to-cluster`): one line on stderr
/// that is rewritten in place when stderr is a terminal, and nothing at all when it is not
/// (scripts and logs get the result alone).
final class ProgressLine: Sendable {
    private let onTerminal: Bool
    private let shown = Atomic<Bool>(false)

    init(onTerminal: Bool = isatty(STDERR_FILENO) == 1) { self.onTerminal = onTerminal }

    /// The text that replaces the line (cut to the terminal's width, so it never wraps).
    func update(_ text: String) {
        guard onTerminal else { return }
        let width = Self.columns()
        let line = text.count > width - 1 ? String(text.prefix(max(width - 2, 10))) + "…" : text
        FileHandle.standardError.write(Data("\r\u{1b}[K\(line)".utf8))
        shown.store(true, ordering: .relaxed)
    }

    /// Clears the line before the result is printed.
    func finish() {
        if shown.load(ordering: .relaxed) { FileHandle.standardError.write(Data("\r\u{1b}[K".utf8)) }
    }

    static func columns() -> Int {
        var ws = winsize()
        // SAFETY: TIOCGWINSZ writes one winsize into `ws`, which lives for the call.
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0 { return Int(ws.ws_col) }
        return 80
    }
}
