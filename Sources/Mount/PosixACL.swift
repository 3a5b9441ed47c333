import Foundation

/// A POSIX ACL in the form the kernel passes through `system.posix_acl_access` and
/// `system.posix_acl_default` (a version word, 2, then one tag/permissions/id record per entry).
/// With extended attributes on, the kernel checks permissions against ACLs itself, and leaves to
/// the filesystem what POSIX asks of it: the mode's permission bits follow the access ACL (and the
/// other way round on `chmod`), and a new file or directory inherits its directory's default ACL.
public struct PosixACL: Equatable, Sendable {
    public static let accessName = "system.posix_acl_access"
    public static let defaultName = "system.posix_acl_default"

    public struct Entry: Equatable, Sendable {
        public var tag: UInt16
        public var perm: UInt16
        public var id: UInt32

        public init(tag: UInt16, perm: UInt16, id: UInt32) {
            (self.tag, self.perm, self.id) = (tag, perm, id)
        }
    }

    enum Tag {
        static let userObj: UInt16 = 0x01, user: UInt16 = 0x02, groupObj: UInt16 = 0x04
        static let group: UInt16 = 0x08, mask: UInt16 = 0x10, other: UInt16 = 0x20
    }

    public var entries: [Entry]

    /// The ACL an attribute value holds; nil when it is not one (wrong version, a partial
    /// record, or no owner, group or other entry).
    public init?(xattr: Data) {
        let b = [UInt8](xattr)
        guard b.count >= 4, (b.count - 4) % 8 == 0, Self.u32(b, 0) == 2 else { return nil }
        entries = stride(from: 4, to: b.count, by: 8).map { Entry(tag: Self.u16(b, $0), perm: Self.u16(b, $0 + 2) & 7, id: Self.u32(b, $0 + 4)) }
        guard [Tag.userObj, Tag.groupObj, Tag.other].allSatisfy({ t in entries.contains { $0.tag == t } }) else { return nil }
    }

    public var xattr: Data {
        var out = Data()
        func le<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        le(UInt32(2))
        for e in entries { le(e.tag); le(e.perm); le(e.id) }
        return out
    }

    /// The permission bits (`rwxrwxrwx`) the ACL stands for: the owner's, the mask's (or the
    /// owning group's when there is no mask), the others'.
    public var permissionBits: UInt32 {
        func perm(_ t: UInt16) -> UInt32 { UInt32(entries.first { $0.tag == t }?.perm ?? 0) }
        let group = entries.contains { $0.tag == Tag.mask } ? perm(Tag.mask) : perm(Tag.groupObj)
        return perm(Tag.userObj) << 6 | group << 3 | perm(Tag.other)
    }

    /// Only the owner, owning group and others: the mode says all of it (no attribute is kept).
    public var isEquivalentToMode: Bool { entries.allSatisfy { [Tag.userObj, Tag.groupObj, Tag.other].contains($0.tag) } }

    /// The ACL after a `chmod` to `bits`: the owner, the mask (or the owning group) and the others
    /// take the new permissions; named users and groups keep theirs.
    public func chmod(_ bits: UInt32) -> PosixACL {
        let hasMask = entries.contains { $0.tag == Tag.mask }
        var out = self
        for i in out.entries.indices {
            switch out.entries[i].tag {
            case Tag.userObj: out.entries[i].perm = UInt16(bits >> 6 & 7)
            case Tag.mask: out.entries[i].perm = UInt16(bits >> 3 & 7)
            case Tag.groupObj where !hasMask: out.entries[i].perm = UInt16(bits >> 3 & 7)
            case Tag.other: out.entries[i].perm = UInt16(bits & 7)
            default: break
            }
        }
        return out
    }

    /// What a new node made with permission bits `bits` under a directory whose default ACL is
    /// this one gets (POSIX.1e): the default ACL with the owner, mask (or owning group) and others
    /// limited to `bits`, and the permission bits that ACL stands for.
    public func inherited(_ bits: UInt32) -> (acl: PosixACL, bits: UInt32) {
        let hasMask = entries.contains { $0.tag == Tag.mask }
        var out = self
        for i in out.entries.indices {
            let e = out.entries[i]
            switch e.tag {
            case Tag.userObj: out.entries[i].perm = e.perm & UInt16(bits >> 6 & 7)
            case Tag.mask: out.entries[i].perm = e.perm & UInt16(bits >> 3 & 7)
            case Tag.groupObj where !hasMask: out.entries[i].perm = e.perm & UInt16(bits >> 3 & 7)
            case Tag.other: out.entries[i].perm = e.perm & UInt16(bits & 7)
            default: break
            }
        }
        return (out, out.permissionBits)
    }

    static func u16(_ b: [UInt8], _ at: Int) -> UInt16 { UInt16(b[at]) | UInt16(b[at + 1]) << 8 }
    static func u32(_ b: [UInt8], _ at: Int) -> UInt32 { UInt32(u16(b, at)) | UInt32(u16(b, at + 2)) << 16 }
}
