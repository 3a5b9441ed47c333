import Crypto
import Foundation

/// Query-string authentication of Signature Version 2 (`AWSAccessKeyId`, `Expires`, `Signature`):
/// what boto3 and aws-cli `s3 presign` produce for a custom endpoint unless told to use SigV4.
/// Only presigned URLs are accepted in this form; headers must be signed with SigV4.
extension SigV4Verifier {
    /// The sub-resources that are part of the signed resource (as botocore signs them).
    static let v2SubResources: Set<String> = [
        "acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber", "policy", "requestPayment",
        "restore", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning", "versions", "website",
        "response-cache-control", "response-content-disposition", "response-content-encoding", "response-content-language",
        "response-content-type", "response-expires",
    ]

    func verifyPresignedV2(_ r: SignedRequest) throws -> SigV4Verified {
        let q = Self.queryMap(r.rawQuery)
        guard let key = q["AWSAccessKeyId"], let signature = q["Signature"], let expiresText = q["Expires"], let expires = Int(expiresText) else {
            throw SigV4Rejection(code: "AuthorizationQueryParametersError", message: "a SigV2 presigned URL needs AWSAccessKeyId, Expires and Signature")
        }
        let t = now()
        let expiry = Date(timeIntervalSince1970: Double(expires))
        if t > expiry {
            throw SigV4Rejection(code: "AccessDenied", message: "the presigned URL expired at \(UTCTime.iso8601Millis(expiry))")
        }
        if expiry.timeIntervalSince(t) > Double(maxExpires) + maxSkew {
            throw SigV4Rejection(code: "AuthorizationQueryParametersError", message: "a presigned URL may be valid for at most 7 days")
        }
        guard let secret = secret(key) else {
            throw SigV4Rejection(code: "InvalidAccessKeyId", message: "the access key \(Self.mask(key)) is not known here")
        }
        let amz = r.headers.map { ($0.0.lowercased(), $0.1) }.filter { $0.0.hasPrefix("x-amz-") }.sorted { $0.0 < $1.0 }
            .map { "\($0.0):\($0.1.trimmingCharacters(in: .whitespaces))\n" }.joined()
        let subs = Self.queryItems(r.rawQuery).filter { Self.v2SubResources.contains($0.name) }.sorted { $0.name < $1.name }
        let subText = subs.map { item in item.value.map { "\(item.name)=\($0)" } ?? item.name }.joined(separator: "&")
        let resource = (r.rawPath.isEmpty ? "/" : r.rawPath) + (subs.isEmpty ? "" : "?" + subText)
        let toSign = [r.method, r.header("content-md5") ?? "", r.header("content-type") ?? "", expiresText].joined(separator: "\n") + "\n" + amz + resource
        let expected = Data(HMAC<Insecure.SHA1>.authenticationCode(for: Data(toSign.utf8), using: SymmetricKey(data: Data(secret.utf8)))).base64EncodedString()
        guard Self.constantTimeEqual(expected, signature) else {
            throw SigV4Rejection(code: "SignatureDoesNotMatch",
                                 message: "the signature does not match: check the secret key of \(Self.mask(key)) and the signing method")
        }
        return SigV4Verified(accessKeyID: key, amzDate: UTCTime.amzDate(t), scope: "", payloadHash: SigV4.unsignedPayload, signature: expected,
                             signingKey: SymmetricKey(data: Data()), presigned: true)
    }
}
