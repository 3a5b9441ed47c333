import Daemon
import Testing

@Suite struct BucketSpecTests {
    @Test func theSeedGrammarParses() throws {
        let s = try BucketSpec(name: "ci-artifacts", ttl: "24h", quota: "10G", confirmed: false)
        #expect(s.ttl == .seconds(86400) && s.quota == .bytes(10 << 30))
        #expect(try BucketSpec.parseTTL("30m") == .seconds(1800) && BucketSpec.parseTTL("7d") == .seconds(604_800))
        #expect(try BucketSpec.parseQuota("512K") == .bytes(512 << 10) && BucketSpec.parseQuota("1T") == .bytes(1 << 40))
        #expect(try BucketSpec.parseQuota("4096") == .bytes(4096))
        #expect(s.ttl.description == "24h" && s.quota.description == "10G")
    }

    @Test func permanentAndUnlimitedNeedConfirmation() throws {
        #expect(throws: DaemonError.self) { try BucketSpec(name: "keep", ttl: "permanent", quota: "1G", confirmed: false) }
        #expect(throws: DaemonError.self) { try BucketSpec(name: "keep", ttl: "1h", quota: "unlimited", confirmed: false) }
        let s = try BucketSpec(name: "keep", ttl: "permanent", quota: "unlimited", confirmed: true)
        #expect(s.ttl == .permanent && s.quota == .unlimited)
        // The refusal reads as English for each kind.
        for (ttl, quota, text) in [("permanent", "1G", "a permanent bucket"), ("1h", "unlimited", "an unlimited bucket"),
                                   ("permanent", "unlimited", "a permanent, unlimited bucket")] {
            do {
                _ = try BucketSpec(name: "keep", ttl: ttl, quota: quota, confirmed: false)
                Issue.record("\(ttl) \(quota) was not refused")
            } catch let e as DaemonError {
                #expect(e.message.hasPrefix(text + " needs confirmation"), "\(e.message)")
            }
        }
    }

    @Test(arguments: ["ab", String(repeating: "a", count: 64), "Upper", "-dash", "dash-", "a..b", "192.168.0.1", "under_score", "sp ace", "ünï", ""])
    func badNamesAreRefused(_ name: String) {
        #expect(throws: DaemonError.self) { try BucketSpec.checkName(name) }
    }

    @Test(arguments: ["abc", "a.b-c", "1.2.3", "0a0", String(repeating: "a", count: 63)])
    func goodNamesPass(_ name: String) throws {
        try BucketSpec.checkName(name)
    }

    @Test(arguments: ["", "0h", "-1h", "1", "1w", "h", "1.5h", "٣h", "99999999d", " 1h", "1d", "60m", "2h", "30M", "7D"])
    func badTTLsAreRefused(_ ttl: String) {
        #expect(throws: DaemonError.self) { try BucketSpec.parseTTL(ttl) }
    }

    @Test(arguments: ["", "0", "-1G", "1g", "1GB", "1.5G", "G", "99999999999T", "١G"])
    func badQuotasAreRefused(_ quota: String) {
        #expect(throws: DaemonError.self) { try BucketSpec.parseQuota(quota) }
    }
}
