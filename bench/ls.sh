#!/usr/bin/env bash
# Cold `ls -l` of a directory of COUNT files through the daemon's front door (issue 20, points 1
# and 7): a fresh garagetytus mount (listings with metadata, no HEAD per file) against a fresh
# s3fs mount (one HEAD per file), both on one bucket with one grant, interleaved for ROUNDS
# rounds; and the raw ceiling, the directory's listing pages alone (ListObjectsV2 with metadata
# over one kept-alive connection, the same grant: what the mount cannot go below). Prints each
# round's entries/s and the median ratio garagetytus / s3fs, and the mount's peak RSS.
#
#   bench/ls.sh [COUNT] [ROUNDS]      (defaults 2000 5; the release build if there is one; root)
#   NO_S3FS=1 bench/ls.sh 100000 1   (garagetytus and the raw listing only: big directories)
#   PLAIN=1 bench/ls.sh 2000 5        (issue 20, point 2: both mount the engine's own S3 port, plain
#                                      SeaweedFS, whose listings carry no metadata; each garagetytus
#                                      round is a remount after a first mount filled its attribute cache)
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-2000}
ROUNDS=${2:-5}
GT=${GT:-$PWD/.build/release/garagetytus}
[ -x "$GT" ] || GT=$PWD/.build/debug/garagetytus
[ -x "$GT" ] || { echo "build first: swift build -c release" >&2; exit 1; }
S3FS=${S3FS:-$(command -v s3fs || true)}
[ -n "${NO_S3FS:-}" ] || [ -x "$S3FS" ] || { echo "s3fs is not installed (apt-get install s3fs), or set NO_S3FS=1" >&2; exit 1; }
. bench/lib.sh
gt_bench_home ls
[ -z "${PLAIN:-}" ] || sed -i 's/^isolation = .*/isolation = "none"/' "$GARAGETYTUS_HOME/config/garagetytus.toml"
"$GT" start >/dev/null
"$GT" bucket create listing --ttl 24h --quota unlimited --confirm-yes-really >/dev/null
GRANT=$GARAGETYTUS_HOME/grant.json
if [ -n "${PLAIN:-}" ]; then
  GW=http://127.0.0.1:$(gt_port s3_port)
  (umask 077; cp "$GARAGETYTUS_HOME/config/engine-identity.json" "$GRANT")
else
  GW=http://127.0.0.1:$(gt_port gateway_port)
  (umask 077; "$GT" bucket grant listing --to bench --perms read,write,list,delete --ttl 24h --json >"$GRANT")
fi
python3 -c "import json, sys; g = json.load(open(sys.argv[1])); print(g.get('access_key', g.get('access_key_id')) + ':' + g.get('secret_key', g.get('secret_access_key')))" "$GRANT" >"$GARAGETYTUS_HOME/s3fs.passwd"
chmod 600 "$GARAGETYTUS_HOME/s3fs.passwd"
A=$GARAGETYTUS_HOME/gt
B=$GARAGETYTUS_HOME/s3fs
mkdir -p "$A" "$B"
trap 'fusermount3 -u "$B" 2>/dev/null || true; "$GT" unmount "$A" >/dev/null 2>&1 || true; "$GT" stop >/dev/null 2>&1 || true; rm -rf "$GARAGETYTUS_HOME"' EXIT
mount_gt() { "$GT" mount --endpoint "$GW" --bucket listing --credentials-file "$GRANT" "$A" >/dev/null; }
mount_s3fs() {
  "$S3FS" listing "$B" -o url="$GW" -o use_path_request_style -o endpoint=us-east-1 \
    -o passwd_file="$GARAGETYTUS_HOME/s3fs.passwd" -o sigv4 -o dbglevel=warn
  local deadline=$((SECONDS + 20))
  until mountpoint -q "$B"; do [ $SECONDS -lt $deadline ] || { echo "s3fs did not mount" >&2; exit 1; }; sleep 0.1; done
}
# COUNT files of 100 bytes, PUT in parallel with the metadata a garagetytus mount writes (mode,
# uid, gid, mtime), so both mounts show them as regular files of this user.
python3 - "$GW" "$GRANT" "$COUNT" <<'PY'
import http.client, json, os, sys, threading, time, urllib.parse
from concurrent.futures import ThreadPoolExecutor
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
gw, g, n = sys.argv[1], json.load(open(sys.argv[2])), int(sys.argv[3])
cred = Credentials(g.get("access_key", g.get("access_key_id")), g.get("secret_key", g.get("secret_access_key")))
url = urllib.parse.urlparse(gw)
local = threading.local()
meta = {"x-amz-meta-mode": str(0o100644), "x-amz-meta-uid": str(os.getuid()), "x-amz-meta-gid": str(os.getgid()),
        "x-amz-meta-mtime": str(int(time.time()))}
def put(i):
    if not hasattr(local, "conn"): local.conn = http.client.HTTPConnection(url.hostname, url.port)
    path = "/listing/d/f%06d" % i
    r = AWSRequest(method="PUT", url=gw + path, data=b"x" * 100, headers=dict(meta))
    S3SigV4Auth(cred, "s3", "us-east-1").add_auth(r)
    local.conn.request("PUT", path, body=b"x" * 100, headers=dict(r.headers))
    resp = local.conn.getresponse(); resp.read()
    if resp.status != 200: raise SystemExit("PUT %s: %d" % (path, resp.status))
with ThreadPoolExecutor(16) as ex: list(ex.map(put, range(n)))
PY
if [ -n "${PLAIN:-}" ]; then
  # HEAD answers are kept only for objects written 5 s or more before: wait, then a first mount
  # and `ls -l` fill the attribute cache; every timed round is a remount.
  sleep 6
  mount_gt; ls -l "$A/d" >/dev/null; "$GT" unmount "$A" >/dev/null
fi
mkdir -p bench/results
OUT=bench/results/ls-${PLAIN:+plain-}$COUNT-$(date +%Y%m%d-%H%M%S).txt
echo "${PLAIN:+PLAIN=1 }bench/ls.sh $COUNT $ROUNDS, $(date -u +%FT%TZ), checkout $(git rev-parse --short HEAD), $(nproc) cores, $(basename "$(dirname "$(dirname "$GT")")")/$(basename "$(dirname "$GT")") build" | tee "$OUT"
timed_ls() {  # $1: directory; prints seconds of a cold `ls -l` (checks it saw every entry)
  local t0=$EPOCHREALTIME n
  n=$(ls -l "$1" | grep -c '^-')
  [ "$n" = "$COUNT" ] || { echo "ls -l of $1 showed $n files, not $COUNT" >&2; exit 1; }
  awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'
}
raw_list() {  # seconds of fetching the directory's pages alone, with metadata, as the mount asks for them
  python3 - "$GW" "$GRANT" "${PLAIN:+1}" <<'PY'
import http.client, json, re, sys, time, urllib.parse
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
g = json.load(open(sys.argv[2]))
url = urllib.parse.urlparse(sys.argv[1])
cred = Credentials(g.get("access_key", g.get("access_key_id")), g.get("secret_key", g.get("secret_access_key")))
plain = sys.argv[3] == "1"
conn = http.client.HTTPConnection(url.hostname, url.port)
t0 = time.monotonic()
token = None
while True:
    q = [("delimiter", "/"), ("list-type", "2"), ("max-keys", "1000"), ("prefix", "d/")] + ([] if plain else [("metadata", "true")])
    if token: q.insert(0, ("continuation-token", token))
    qs = urllib.parse.urlencode(sorted(q), quote_via=urllib.parse.quote)
    r = AWSRequest(method="GET", url="%s/listing?%s" % (sys.argv[1], qs))
    S3SigV4Auth(cred, "s3", "us-east-1").add_auth(r)
    conn.request("GET", "/listing?" + qs, headers=dict(r.headers))
    resp = conn.getresponse()
    body = resp.read().decode()
    if resp.status != 200: sys.exit("listing failed: %d %s" % (resp.status, body[:200]))
    m = re.search(r"<NextContinuationToken>(.*?)</NextContinuationToken>", body)
    if "<IsTruncated>true</IsTruncated>" not in body or not m: break
    token = m.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&#34;", '"').replace("&quot;", '"')
print("%.3f" % (time.monotonic() - t0))
PY
}
ratios=(); gts=(); raws=(); peak=0
for ((r = 1; r <= ROUNDS; r++)); do
  mount_gt
  gt=$(timed_ls "$A/d")
  pid=$(python3 -c 'import glob, json, sys
for f in glob.glob(sys.argv[1] + "/data/mounts/*.json"):
    d = json.load(open(f))
    if d.get("mountpoint") == sys.argv[2]: print(d["pid"])' "$GARAGETYTUS_HOME" "$A")
  rss=$( [ -n "$pid" ] && awk '/VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
  [ "${rss:-0}" -gt "$peak" ] && peak=$rss
  "$GT" unmount "$A" >/dev/null
  raw=$(raw_list)
  raws+=("$(awk -v s="$raw" -v n="$COUNT" 'BEGIN { printf "%.0f", n / s }')")
  line="round $r: garagetytus $(awk -v s="$gt" -v n="$COUNT" 'BEGIN { printf "%.0f", n / s }') entries/s (${gt} s), listing alone ${raw} s"
  gts+=("$(awk -v s="$gt" -v n="$COUNT" 'BEGIN { printf "%.0f", n / s }')")
  if [ -z "${NO_S3FS:-}" ]; then
    mount_s3fs
    s3=$(timed_ls "$B/d")
    fusermount3 -u "$B"
    ratio=$(awk -v a="$s3" -v b="$gt" 'BEGIN { printf "%.1f", a / b }')
    ratios+=("$ratio")
    line+=", s3fs $(awk -v s="$s3" -v n="$COUNT" 'BEGIN { printf "%.0f", n / s }') entries/s (${s3} s), ratio $ratio"
  fi
  echo "$line" | tee -a "$OUT"
done
s3s=()
for ((i = 0; i < ${#ratios[@]}; i++)); do s3s+=("$(awk -v g="${gts[$i]}" -v r="${ratios[$i]}" 'BEGIN { printf "%.0f", g / r }')"); done
vs=()
[ ${#ratios[@]} -eq 0 ] || vs=(--series "s3fs|entries/s|$(gt_csv "${s3s[@]}")" --ratio "cold ls -l vs s3fs|$([ -n "${PLAIN:-}" ] && echo 5 || echo 10)|$(gt_csv "${ratios[@]}")")
OUT_TXT=$OUT gt_plot "${OUT%.txt}" "${PLAIN:+PLAIN=1 }bench/ls.sh $COUNT $ROUNDS, cold ls -l, $(date -u +%F), $(git rev-parse --short HEAD)" \
  --series "garagetytus mount|entries/s|$(gt_csv "${gts[@]}")" --series "listing pages alone (ceiling)|entries/s|$(gt_csv "${raws[@]}")" "${vs[@]}"
echo "median: garagetytus $(printf '%s\n' "${gts[@]}" | gt_median) entries/s for $COUNT files; mount peak RSS $((peak / 1024)) MiB" | tee -a "$OUT"
[ ${#ratios[@]} -eq 0 ] || echo "median: cold ls -l of $COUNT files is $(printf '%s\n' "${ratios[@]}" | gt_median)x s3fs (goal: >= $([ -n "${PLAIN:-}" ] && echo 5 || echo 10)x)" | tee -a "$OUT"
# The same figures for scripts and plots (bench/ls-sizes.sh), next to the text.
python3 - "$OUT.json" "$COUNT" "$((peak / 1024))" "$(printf '%s\n' "${gts[@]}" | gt_median)" "$(printf '%s\n' "${raws[@]}" | gt_median)" \
  "$( [ ${#ratios[@]} -eq 0 ] || printf '%s\n' "${ratios[@]}" | gt_median)" <<'PY'
import json, sys
out, count, rss, gt, raw, ratio = sys.argv[1:7]
json.dump({"entries": int(count), "garagetytus_entries_per_s": float(gt), "listing_alone_entries_per_s": float(raw),
           "ratio_vs_s3fs": float(ratio) if ratio else None, "mount_peak_rss_mib": int(rss)}, open(out, "w"))
PY
