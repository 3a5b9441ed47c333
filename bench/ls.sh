#!/usr/bin/env bash
# Cold `ls -l` of a directory of COUNT files through the daemon's front door (issue 20, points 1
# and 7): a fresh garagetytus mount (listings with metadata, no HEAD per file) against a fresh
# s3fs mount (one HEAD per file), both on one bucket with one grant, interleaved for ROUNDS
# rounds; and the raw ceiling, the directory's listing pages alone (ListObjectsV2, boto3, the
# same grant). Prints each round's entries/s and the median ratio garagetytus / s3fs, and the
# mount's peak RSS.
#
#   bench/ls.sh [COUNT] [ROUNDS]      (defaults 2000 5; the release build if there is one; root)
#   NO_S3FS=1 bench/ls.sh 100000 1   (garagetytus and the raw listing only: big directories)
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
"$GT" start >/dev/null
GW=http://127.0.0.1:$(gt_port gateway_port)
"$GT" bucket create listing --ttl 24h --quota unlimited --confirm-yes-really >/dev/null
GRANT=$GARAGETYTUS_HOME/grant.json
(umask 077; "$GT" bucket grant listing --to bench --perms read,write,list,delete --ttl 24h --json >"$GRANT")
python3 -c "import json, sys; g = json.load(open(sys.argv[1])); print(g['access_key'] + ':' + g['secret_key'])" "$GRANT" >"$GARAGETYTUS_HOME/s3fs.passwd"
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
# COUNT files of 100 bytes, written through a garagetytus mount (so they carry mode, uid, gid, mtime).
mount_gt
mkdir "$A/d"
python3 - "$A/d" "$COUNT" <<'PY'
import os, sys
from concurrent.futures import ThreadPoolExecutor
d, n = sys.argv[1], int(sys.argv[2])
def w(i):
    with open(os.path.join(d, "f%06d" % i), "wb") as f: f.write(b"x" * 100)
with ThreadPoolExecutor(16) as ex: list(ex.map(w, range(n)))
PY
"$GT" unmount "$A" >/dev/null
mkdir -p bench/results
OUT=bench/results/ls-$COUNT-$(date +%Y%m%d-%H%M%S).txt
echo "bench/ls.sh $COUNT $ROUNDS, $(date -u +%FT%TZ), checkout $(git rev-parse --short HEAD), $(nproc) cores, $(basename "$(dirname "$(dirname "$GT")")")/$(basename "$(dirname "$GT")") build" | tee "$OUT"
timed_ls() {  # $1: directory; prints seconds of a cold `ls -l` (checks it saw every entry)
  local t0=$EPOCHREALTIME n
  n=$(ls -l "$1" | grep -c '^-')
  [ "$n" = "$COUNT" ] || { echo "ls -l of $1 showed $n files, not $COUNT" >&2; exit 1; }
  awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'
}
raw_list() {  # seconds of listing the directory's pages alone, as the mount asks for them
  python3 - "$GW" "$GRANT" <<'PY'
import json, sys, time, boto3, botocore.config
g = json.load(open(sys.argv[2]))
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=g["access_key"], aws_secret_access_key=g["secret_key"],
                  region_name="us-east-1", config=botocore.config.Config(s3={"addressing_style": "path"}))
s3.meta.events.register("before-parameter-build.s3.ListObjectsV2", lambda params, **_: None)
def add_metadata(request, **_):
    request.url += ("&" if "?" in request.url else "?") + "metadata=true"
s3.meta.events.register("before-sign.s3.ListObjectsV2", add_metadata)
t0 = time.monotonic()
token, n = None, 0
while True:
    kw = {"Bucket": "listing", "Prefix": "d/", "Delimiter": "/"}
    if token: kw["ContinuationToken"] = token
    page = s3.list_objects_v2(**kw)
    n += len(page.get("Contents", []))
    token = page.get("NextContinuationToken")
    if not token: break
print("%.3f" % (time.monotonic() - t0))
PY
}
ratios=(); gts=(); peak=0
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
echo "median: garagetytus $(printf '%s\n' "${gts[@]}" | gt_median) entries/s for $COUNT files; mount peak RSS $((peak / 1024)) MiB" | tee -a "$OUT"
[ ${#ratios[@]} -eq 0 ] || echo "median: cold ls -l of $COUNT files is $(printf '%s\n' "${ratios[@]}" | gt_median)x s3fs (goal: >= 10x)" | tee -a "$OUT"
