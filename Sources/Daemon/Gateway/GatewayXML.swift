import Foundation
import Hummingbird
import HTTPTypes
import S3

/// The gateway's own S3 XML answers: errors, and the few results it gives without the engine.
enum GatewayXML {
    /// An S3 error document; code and message are also headers, so an answer to HEAD (which has
    /// no body) still says why — e.g. which grant was revoked.
    static func error(status: Int, code: String, message: String, resource: String) -> Response {
        var r = xml(errorText(code: code, message: message, resource: resource), status: status)
        r.headers[HTTPField.Name("x-amz-error-code")!] = headerSafe(code)
        r.headers[HTTPField.Name("x-amz-error-message")!] = headerSafe(message)
        return r
    }

    /// Printable ASCII only, at most 256 characters.
    static func headerSafe(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.prefix(256).map { (0x20..<0x7F).contains($0.value) ? $0 : "?" }))
    }

    static func errorText(code: String, message: String, resource: String) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <Error><Code>\(escape(code))</Code><Message>\(escape(message))</Message><Resource>\(escape(String(resource.prefix(1024))))</Resource><RequestId>\(UInt64.random(in: 1...UInt64.max))</RequestId></Error>
        """
    }

    /// ListBuckets cut down to what a grant may see.
    static func listBuckets(_ buckets: [BucketRecord]) -> Response {
        let items = buckets.map { "<Bucket><Name>\(escape($0.name))</Name><CreationDate>\(UTCTime.iso8601Millis($0.createdAt))</CreationDate></Bucket>" }.joined()
        return xml("""
            <?xml version="1.0" encoding="UTF-8"?>
            <ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>garagetytus</ID><DisplayName>garagetytus</DisplayName></Owner><Buckets>\(items)</Buckets></ListAllMyBucketsResult>
            """, status: 200)
    }

    /// GetBucketLocation: AWS answers us-east-1 with an empty constraint.
    static func location(_ region: String) -> Response {
        let value = region == "us-east-1" ? "" : escape(region)
        return xml("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\(value)</LocationConstraint>", status: 200)
    }

    static func xml(_ text: String, status: Int) -> Response {
        Response(status: HTTPResponse.Status(code: status), headers: [.contentType: "application/xml"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func escape(_ s: String) -> String { xmlEscape(s) }
}
