import Foundation
import Mount
import Testing

@Suite struct PosixAttributesTests {
    let defaults = AttributeDefaults(uid: 1000, gid: 1001)

    @Test func s3fsWrittenFileDecodes() {
        // What s3fs stores for `-rwxr-x--- 0:0` with mtime 1700000000.
        let a = PosixAttributes.decode(["mode": "33256", "uid": "0", "gid": "0", "mtime": "1700000000"],
                                       kind: .file, lastModified: nil, defaults: defaults)
        #expect(a == PosixAttributes(mode: 0o100750, uid: 0, gid: 0, mtime: 1_700_000_000))
        #expect(a.kind == .file && a.permissions == 0o750)
    }

    @Test func roundTripIsExact() {
        for a in [PosixAttributes(mode: 0o100644, uid: 5, gid: 6, mtime: 1_600_000_123),
                  PosixAttributes(mode: 0o040700, uid: 0, gid: 0, mtime: 1),
                  PosixAttributes(mode: 0o120777, uid: 1, gid: 1, mtime: 2)] {
            #expect(PosixAttributes.decode(a.encode(), kind: a.kind == .directory ? .directory : .file, lastModified: nil, defaults: defaults) == a)
        }
    }

    @Test func encodingUsesS3fsNamesAndDecimal() {
        let m = PosixAttributes(mode: 0o100644, uid: 1000, gid: 1000, mtime: 1_700_000_000.9).encode()
        #expect(m == ["mode": "33188", "uid": "1000", "gid": "1000", "mtime": "1700000000"])
    }

    @Test func objectsWithoutMetadataGetDefaultsAndTheirDate() {
        let date = Date(timeIntervalSince1970: 1_650_000_000)
        #expect(PosixAttributes.decode([:], kind: .file, lastModified: date, defaults: defaults)
            == PosixAttributes(mode: 0o100644, uid: 1000, gid: 1001, mtime: 1_650_000_000))
        #expect(PosixAttributes.decode([:], kind: .directory, lastModified: nil, defaults: defaults).mode == 0o040755)
    }

    @Test func symlinkModeMakesASymlinkAndDirectoriesStayDirectories() {
        #expect(PosixAttributes.decode(["mode": "41471"], kind: .file, lastModified: nil, defaults: defaults).kind == .symlink)
        // Permission-only modes (no type bits) keep the key's kind.
        #expect(PosixAttributes.decode(["mode": "420"], kind: .file, lastModified: nil, defaults: defaults).mode == 0o100644)
        #expect(PosixAttributes.decode(["mode": "33188"], kind: .directory, lastModified: nil, defaults: defaults).mode == 0o040644)
    }

    @Test func malformedValuesFallBack() {
        let a = PosixAttributes.decode(["mode": "rwx", "uid": "-1", "gid": "x", "mtime": "soon"], kind: .file,
                                       lastModified: Date(timeIntervalSince1970: 7), defaults: defaults)
        #expect(a == PosixAttributes(mode: 0o100644, uid: 1000, gid: 1001, mtime: 7))
    }

    @Test func specialFilesKeepTheirTypeAndDevicesTheirNumber() {
        // What s3fs stores for `mkfifo -m 644` (no rdev: it keeps none).
        #expect(PosixAttributes.decode(["mode": "4516"], kind: .file, lastModified: nil, defaults: defaults).kind == .fifo)
        for kind in [NodeKind.fifo, .socket, .charDevice, .blockDevice] {
            let a = PosixAttributes(mode: kind.typeBits | 0o640, uid: 1, gid: 2, mtime: 3, rdev: kind == .charDevice ? 0x103 : 0)
            let back = PosixAttributes.decode(a.encode(), kind: .file, lastModified: nil, defaults: defaults)
            #expect(back == a && back.kind == kind)
        }
        // A device number on anything but a device is not believed.
        #expect(PosixAttributes.decode(["mode": "33188", "rdev": "259"], kind: .file, lastModified: nil, defaults: defaults).rdev == 0)
        #expect(PosixAttributes(mode: 0o020666, uid: 0, gid: 0, mtime: 0, rdev: 0x103).encode()["rdev"] == "259")
    }

    @Test func extendedAttributesUseS3fsEncoding() {
        // s3fs's value for user.color=blue and user.n=<0x00 0x01>: `{"name":"base64",…}`, percent-encoded.
        let s3fs = "%7B%22user.color%22%3A%22Ymx1ZQ%3D%3D%22%2C%22user.n%22%3A%22AAE%3D%22%7D"
        let map = ["user.color": Data("blue".utf8), "user.n": Data([0, 1])]
        #expect(S3fsXattrs.decode(s3fs) == map)
        #expect(S3fsXattrs.encode(map) == s3fs)
        let a = PosixAttributes.decode(["mode": "33188", "xattr": s3fs], kind: .file, lastModified: nil, defaults: defaults)
        #expect(a.xattrs == map && a.encode()["xattr"] == s3fs)
        // No attributes: no metadata entry (objects stay as they were).
        #expect(PosixAttributes(mode: 0o100644, uid: 0, gid: 0, mtime: 0).encode()["xattr"] == nil)
        // Names with ':' survive (s3fs splits at the last one); malformed pairs are skipped.
        #expect(S3fsXattrs.decode(S3fsXattrs.encode(["user.a:b": Data("v".utf8)])) == ["user.a:b": Data("v".utf8)])
        #expect(S3fsXattrs.decode("%7B%22ok%22%3A%22dg%3D%3D%22%2Cbroken%7D") == ["ok": Data("v".utf8)])
        #expect(S3fsXattrs.decode("not json").isEmpty && S3fsXattrs.decode("%7B%7D").isEmpty)
        #expect(!S3fsXattrs.storable(name: "user.a,b") && !S3fsXattrs.storable(name: "user.\"q") && S3fsXattrs.storable(name: "user.é:x"))
    }

    @Test func accessAndChangeTimesUseS3fsNamesAndAreStoredOnlyWhenTheyDiffer() {
        let plain = PosixAttributes(mode: 0o100644, uid: 0, gid: 0, mtime: 1_700_000_000)
        #expect(plain.atime == plain.mtime && plain.ctime == plain.mtime)
        #expect(plain.encode()["atime"] == nil && plain.encode()["ctime"] == nil)
        let touched = PosixAttributes(mode: 0o100644, uid: 0, gid: 0, mtime: 1_600_000_000, atime: 1_650_000_000.7, ctime: 1_700_000_000)
        let m = touched.encode()
        #expect(m["mtime"] == "1600000000" && m["atime"] == "1650000000" && m["ctime"] == "1700000000")
        let back = PosixAttributes.decode(m, kind: .file, lastModified: nil, defaults: defaults)
        #expect(back.atime == 1_650_000_000 && back.ctime == 1_700_000_000 && back.mtime == 1_600_000_000)
        // What s3fs writes for a new file (all three the same): nothing but mtime matters.
        #expect(PosixAttributes.decode(["mode": "33188", "mtime": "5", "atime": "5", "ctime": "5"], kind: .file, lastModified: nil, defaults: defaults)
            == PosixAttributes(mode: 0o100644, uid: 1000, gid: 1001, mtime: 5))
    }

    @Test func posixACLsFollowTheModeAndAreInheritedAsPOSIXSays() throws {
        typealias E = PosixACL.Entry
        // user::rw- user:1234:rwx group::r-x mask::rw- other::r--  (as setfacl writes it)
        var raw = Data([2, 0, 0, 0])
        for (tag, perm, id) in [(UInt16(1), UInt16(6), UInt32.max), (2, 7, 1234), (4, 5, .max), (0x10, 6, .max), (0x20, 4, .max)] as [(UInt16, UInt16, UInt32)] {
            withUnsafeBytes(of: tag.littleEndian) { raw.append(contentsOf: $0) }
            withUnsafeBytes(of: perm.littleEndian) { raw.append(contentsOf: $0) }
            withUnsafeBytes(of: id.littleEndian) { raw.append(contentsOf: $0) }
        }
        let acl = try #require(PosixACL(xattr: raw))
        #expect(acl.xattr == raw && !acl.isEquivalentToMode)
        #expect(acl.permissionBits == 0o664)  // group bits are the mask's
        let chmodded = acl.chmod(0o750)
        #expect(chmodded.permissionBits == 0o750 && chmodded.entries.contains(E(tag: 2, perm: 7, id: 1234)))
        #expect(chmodded.entries.contains(E(tag: 4, perm: 5, id: .max)))  // the owning group keeps its entry under a mask
        // Inherited by a file made with 0666: limited to it, the named user kept.
        let (child, bits) = acl.inherited(0o666)
        #expect(bits == 0o664 && child.entries.contains(E(tag: 2, perm: 7, id: 1234)) && child.entries.contains(E(tag: 0x10, perm: 6, id: .max)))
        // Not ACLs: a wrong version, a torn record, no other entry.
        #expect(PosixACL(xattr: Data([1, 0, 0, 0])) == nil && PosixACL(xattr: raw.dropLast()) == nil)
        #expect(PosixACL(xattr: Data(raw.prefix(4 + 8 * 4))) == nil)
    }
}
