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
}
