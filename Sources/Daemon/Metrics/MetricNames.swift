/// Every metric name the daemon exports, in one place. The first five are the seed's contract.
public enum MetricNames {
    public static let diskFreePct = "garagetytus_disk_free_pct"
    public static let mode = "garagetytus_mode"
    public static let uptimeSeconds = "garagetytus_uptime_seconds"
    public static let uncleanShutdownTotal = "garagetytus_unclean_shutdown_total"
    public static let watchdogLastTick = "garagetytus_watchdog_last_tick_unix_seconds"
    public static let engineUp = "garagetytus_engine_up"
    public static let engineRestartsTotal = "garagetytus_engine_restarts_total"
    public static let s3Requests = "garagetytus_s3_requests_total"
    public static let s3Duration = "garagetytus_s3_request_duration_seconds"
    public static let s3BytesIn = "garagetytus_s3_bytes_in_total"
    public static let s3BytesOut = "garagetytus_s3_bytes_out_total"
    public static let s3Denied = "garagetytus_s3_denied_total"
    public static let activeGrants = "garagetytus_active_grants"
    public static let uploadsAborted = "garagetytus_multipart_uploads_aborted_total"
}
