import Foundation
import HTTPTypes
import Hummingbird

/// The dashboard's routes on the metrics listener: `/dashboard?token=…` (a one-time token from
/// `garagetytus dashboard`) sets a session cookie and serves the page; `/dashboard` and
/// `/dashboard/panels` then need that cookie. Without either: 401.
extension Dashboard {
    static let cookie = "gt_dashboard"

    func addRoutes(_ router: Router<BasicRequestContext>) {
        router.get("/dashboard") { req, _ -> Response in
            if let token = req.uri.queryParameters.get("token") {
                guard let session = self.access.redeem(String(token)) else {
                    return Self.unauthorized("this dashboard link was used already or has expired: run `garagetytus dashboard` for a new one")
                }
                var r = Self.html(self.page())
                r.headers[.setCookie] = "\(Self.cookie)=\(session); Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=\(Int(DashboardAccess.sessionLife))"
                return r
            }
            guard self.hasSession(req) else { return Self.unauthorized("open the link `garagetytus dashboard` prints") }
            return Self.html(self.page())
        }
        router.get("/dashboard/panels") { req, _ -> Response in
            guard self.hasSession(req) else { return Self.unauthorized("the dashboard session ended: run `garagetytus dashboard` again") }
            return Self.html(self.panels())
        }
    }

    func hasSession(_ req: Request) -> Bool {
        for header in req.headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let kv = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1).map(String.init)
                if kv.count == 2, kv[0] == Self.cookie, access.isValid(session: kv[1]) { return true }
            }
        }
        return false
    }

    static func html(_ body: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func unauthorized(_ why: String) -> Response {
        Response(status: .unauthorized, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: why + "\n")))
    }
}
