import Glibc
import Mount
import Testing

@Suite struct VFSErrorTests {
    @Test(arguments: [
        (VFSError.Code.notFound, ENOENT), (.exists, EEXIST), (.notEmpty, ENOTEMPTY), (.readOnly, EROFS),
        (.stale, ESTALE), (.unsupported, ENOTSUP), (.accessDenied, EACCES), (.io, EIO), (.noSpace, ENOSPC), (.noAttribute, ENODATA), (.range, ERANGE),
    ])
    func eachCodeMapsToItsErrno(code: VFSError.Code, errno: Int32) {
        #expect(VFSError(code, "x").errno == errno)
    }

    @Test func messageCarriesTheCause() {
        struct Boom: Error, CustomStringConvertible { var description: String { "HTTP 503 SlowDown" } }
        #expect(VFSError(.io, "upload of a.txt failed", cause: Boom()).description == "upload of a.txt failed: HTTP 503 SlowDown")
    }
}
