import Foundation

extension S3Client {
    /// One signed GET whose 2xx body is handed to `onData` as it arrives, for as long as the
    /// endpoint keeps sending and `onData` returns true (no retry: the caller decides). A
    /// non-2xx answer becomes `S3Error`; a transfer that stalls for `stallSeconds` fails.
    public func stream(bucket: String, query: [(String, String)], stallSeconds: Int, operation: String,
                       onData: @escaping @Sendable (UnsafeRawBufferPointer) -> Bool) throws {
        let url = makeURL(bucket: bucket, key: nil, query: query)
        let signed = SigV4.sign(method: "GET", url: url, headers: [], payloadHash: SigV4.sha256Hex(Data()),
                                credentials: credentials(), region: region, keys: signingKeys)
        var request = HTTPRequest(method: "GET", url: url.absoluteString, headers: signed, unixSocket: unixSocket, timeout: timeout)
        request.caFile = caFile
        request.stream = onData
        request.stallSeconds = stallSeconds
        let r: HTTPResponse
        do {
            r = try CurlHTTP.perform(request)
        } catch let e as HTTPTransportError {
            throw S3Error(kind: .transport, status: nil, code: nil, message: e.message, operation: operation)
        }
        guard (200..<300).contains(r.status) else {
            throw S3Error.from(status: r.status, body: XMLNode.parse(r.body), operation: operation)
        }
    }
}
