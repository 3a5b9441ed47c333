/// What an object key may be here, decided once for the front door (which refuses other keys)
/// and the mount (which refuses names that would make them).
public enum S3Key {
    /// S3's limit for a key, in UTF-8 bytes.
    public static let maxBytes = 1024

    /// Whether `s` has a control character (newline, tab, …, DEL): keys may, but logs write them
    /// escaped.
    public static func hasControlCharacter<S: StringProtocol>(_ s: S) -> Bool {
        s.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }
}
