/// ETags as S3 writes them (`"<hex>"`) and as they are compared (without the quotes).
public enum ETag {
    /// `s` without one pair of surrounding double quotes, if it has them.
    public static func unquoted(_ s: String) -> String {
        s.count >= 2 && s.hasPrefix("\"") && s.hasSuffix("\"") ? String(s.dropFirst().dropLast()) : s
    }
}
