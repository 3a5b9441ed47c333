/// Reading `/proc/<pid>/status`.
enum ProcStatus {
    /// The number on the `Tgid:` line of a status file's text (its fourth line, well within the
    /// first 1 KiB), or nil when there is none.
    static func threadGroup(in text: some Collection<UInt8>) -> Int32? {
        let key = Array("\nTgid:".utf8)
        var i = text.startIndex
        while i != text.endIndex {
            var j = i, k = 0
            while k < key.count, j != text.endIndex, text[j] == key[k] { j = text.index(after: j); k += 1 }
            if k == key.count {
                while j != text.endIndex, text[j] == 9 || text[j] == 32 { j = text.index(after: j) }
                var value: Int64 = 0, digits = 0
                while j != text.endIndex, text[j] >= 48, text[j] <= 57, digits < 10 {
                    value = value * 10 + Int64(text[j] - 48)
                    digits += 1
                    j = text.index(after: j)
                }
                return digits > 0 && value <= Int64(Int32.max) ? Int32(value) : nil
            }
            i = text.index(after: i)
        }
        return nil
    }
}
