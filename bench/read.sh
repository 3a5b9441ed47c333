#!/usr/bin/env bash
# Cold sequential read through the mount as a ratio to the 8-way parallel ranged-GET ceiling,
# both measured under the same cache conditions, interleaved: each round drops the page cache
# and reads the object with 8 threads of boto3 in 16 MiB ranges (the shared harness's ceiling),
# then drops it again and reads the same object with `dd bs=1M` through a fresh mount. (The shared
# harness measures its ceiling right after uploading, so the engine's data are still in the page
# cache, while its mount read follows a drop.) WARM=1 drops nothing, for both. Each round then
# reads the object the same way through a fresh s3fs mount (options as in bench/mount.sh), for the
# ratio to s3fs.
#
#   bench/read.sh [SIZE_MB] [ROUNDS]        (defaults 512 5; needs swift build -c release; root)
#   MOUNT_FLAGS=--no-data-cache bench/read.sh   (the mount without its block cache)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-512}
ROUNDS=${2:-5}
GT=${GT:-$PWD/.build/release/garagetytus}
[ -x "$GT" ] || { echo "build first: swift build -c release" >&2; exit 1; }
. bench/lib.sh
gt_bench_home read
# The ceiling and both mounts read the engine's own S3 port: not sealed away for this benchmark.
sed -i 's/^isolation = .*/isolation = "none"/' "$GARAGETYTUS_HOME/config/garagetytus.toml"
"$GT" start >/dev/null
ENG=$(gt_port s3_port)
read -r AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY < <(gt_engine_keys)
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
"$GT" bucket create reads --ttl 24h --quota unlimited --confirm-yes-really >/dev/null
MNT=$GARAGETYTUS_HOME/mnt
mkdir -p "$MNT"
trap '"$GT" unmount "$MNT" >/dev/null 2>&1 || true; "$GT" stop >/dev/null 2>&1 || true; rm -rf "$GARAGETYTUS_HOME"' EXIT
mount_fresh() {  # cold: no staging files, no block cache
  rm -rf "$GARAGETYTUS_HOME/cache" "$GARAGETYTUS_HOME/data/blocks"
  "$GT" mount --endpoint "http://127.0.0.1:$ENG" --bucket reads --cache-dir "$GARAGETYTUS_HOME/cache" ${MOUNT_FLAGS:-} "$MNT" >/dev/null
}
drop() { [ -n "${WARM:-}" ] || { sync; echo 3 >/proc/sys/vm/drop_caches; }; }
S3FS=${S3FS:-$(command -v s3fs)}
[ -x "$S3FS" ] || { echo "s3fs is not installed (apt-get install s3fs)" >&2; exit 1; }
echo "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" >"$GARAGETYTUS_HOME/s3fs.passwd"
chmod 600 "$GARAGETYTUS_HOME/s3fs.passwd"
s3fs_read() {  # prints MiB/s of a cold dd read of big through a fresh s3fs mount
  "$S3FS" reads "$MNT" -o url="http://127.0.0.1:$ENG" -o use_path_request_style -o endpoint=us-east-1 \
    -o passwd_file="$GARAGETYTUS_HOME/s3fs.passwd" -o sigv4 -o dbglevel=warn
  local deadline=$((SECONDS + 20))
  until [ -f "$MNT/big" ]; do [ $SECONDS -lt $deadline ] || { echo "s3fs did not mount" >&2; exit 1; }; sleep 0.1; done
  drop
  local t0=$EPOCHREALTIME
  dd if="$MNT/big" of=/dev/null bs=1M status=none
  local t1=$EPOCHREALTIME
  fusermount3 -u "$MNT"
  awk -v s="$SIZE" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", s / (b - a) }'
}
mount_fresh
dd if=/dev/urandom of="$MNT/big" bs=1M count="$SIZE" conv=fsync status=none
"$GT" unmount "$MNT" >/dev/null
mkdir -p bench/results
OUT=bench/results/read-$(date +%Y%m%d-%H%M%S).txt
echo "bench/read.sh $SIZE $ROUNDS${WARM:+ (WARM)}, $(date -u +%FT%TZ), checkout $(git rev-parse --short HEAD), $(nproc) cores" | tee "$OUT"
ratios=(); vs3fs=(); ceil=(); ours=(); theirs=()
vs3fs=()
for ((r = 1; r <= ROUNDS; r++)); do
  drop
  ceiling=$(python3 - "$ENG" "$SIZE" <<'PY'
import boto3, concurrent.futures as cf, sys, time
from botocore.config import Config
port, size = int(sys.argv[1]), int(sys.argv[2]) << 20
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}, max_pool_connections=8))
part = 16 << 20
def get(lo):
    body = s3.get_object(Bucket="reads", Key="big", Range=f"bytes={lo}-{min(lo + part, size) - 1}")["Body"]
    n = 0
    while b := body.read(1 << 20): n += len(b)
    return n
t0 = time.perf_counter()
with cf.ThreadPoolExecutor(8) as ex: got = sum(ex.map(get, range(0, size, part)))
assert got == size, got
print(f"{(size >> 20) / (time.perf_counter() - t0):.1f}")
PY
)
  mount_fresh
  drop
  t0=$EPOCHREALTIME
  dd if="$MNT/big" of=/dev/null bs=1M status=none
  t1=$EPOCHREALTIME
  "$GT" unmount "$MNT" >/dev/null
  other=$(s3fs_read)
  line=$(awk -v r="$r" -v s="$SIZE" -v a="$t0" -v b="$t1" -v c="$ceiling" -v o="$other" 'BEGIN {
    m = s / (b - a); printf "round %d: ceiling %.0f MiB/s, garagetytus %.0f MiB/s, s3fs %.0f MiB/s: ratio to ceiling %.2f, to s3fs %.2f", r, c, m, o, m / c, m / o }')
  echo "$line" | tee -a "$OUT"
  ratios+=("$(echo "$line" | sed 's/.*ceiling \([0-9.]*\),.*/\1/')")
  vs3fs+=("$(echo "$line" | sed 's/.*to s3fs \([0-9.]*\)$/\1/')")
  ceil+=("$ceiling"); ours+=("$(echo "$line" | sed 's/.*garagetytus \([0-9]*\) MiB.*/\1/')"); theirs+=("$other")
done
OUT_TXT=$OUT gt_plot "${OUT%.txt}" "bench/read.sh $SIZE $ROUNDS, cold sequential read, $(date -u +%F), $(git rev-parse --short HEAD)" \
  --series "garagetytus|MiB/s|$(gt_csv "${ours[@]}")" --series "s3fs|MiB/s|$(gt_csv "${theirs[@]}")" \
  --series "8-way ranged GETs (ceiling)|MiB/s|$(gt_csv "${ceil[@]}")" \
  --ratio "vs the ceiling|0.7|$(gt_csv "${ratios[@]}")" --ratio "vs s3fs|1.5|$(gt_csv "${vs3fs[@]}")"
echo "median ratio to the 8-way ranged-GET ceiling: $(printf '%s\n' "${ratios[@]}" | gt_median); to s3fs: $(printf '%s\n' "${vs3fs[@]}" | gt_median)" | tee -a "$OUT"
echo "results: $OUT"
