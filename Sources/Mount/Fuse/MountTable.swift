import Foundation

/// The mounts of this process's mount namespace, from /proc/self/mountinfo: the one parser of it
/// for the CLI (is a mountpoint taken, and by what), the mount (its FUSE device) and the tests.
public enum MountTable {
    public struct Entry: Sendable, Equatable {
        /// `major:minor` of the mounted device (for FUSE, the name of its BDI in /sys/class/bdi).
        public var device: String
        public var mountpoint: String
        /// `fuse.garagetytus`, `fuse.s3fs`, `ext4`, …
        public var fsType: String
    }

    /// Every mount at exactly `path`, bottom first (a later mount stacks on an earlier one).
    public static func entries(at path: String) -> [Entry] {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            guard f.count > 4, unescape(f[4]) == path, let dash = f.firstIndex(of: "-"), dash + 1 < f.count else { return nil }
            return Entry(device: String(f[2]), mountpoint: path, fsType: String(f[dash + 1]))
        }
    }

    /// mountinfo writes space, tab, newline and backslash as octal escapes.
    static func unescape(_ s: Substring) -> String {
        guard s.contains("\\") else { return String(s) }
        return s.replacingOccurrences(of: "\\040", with: " ").replacingOccurrences(of: "\\011", with: "\t")
            .replacingOccurrences(of: "\\012", with: "\n").replacingOccurrences(of: "\\134", with: "\\")
    }
}
