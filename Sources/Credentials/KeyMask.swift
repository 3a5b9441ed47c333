/// How an access key is shown wherever it is shown (logs, `storage show`, `.config`, tokens).
public enum KeyMask {
    /// `GKAB***WXYZ`: enough to recognise a key, never enough to use it.
    public static func mask(_ key: String) -> String {
        key.count <= 8 ? "***" : String(key.prefix(4)) + "***" + String(key.suffix(4))
    }
}
