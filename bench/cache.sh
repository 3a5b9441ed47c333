#!/usr/bin/env bash
# The block cache (issue 20, point 3), through the daemon's front door with one grant, interleaved
# for ROUNDS rounds:
#   random  4 KiB random reads (fio psync, iodepth 1, --invalidate=1, as ../shared/bench) of a
#           256 MiB object for SECONDS s: a fresh garagetytus mount with an empty block cache
#           against a fresh s3fs mount; IOPS and the ratio.
#   reread  `dd bs=1M` of a 512 MiB object through a fresh garagetytus mount whose block cache a
#           first mount filled, against `dd` of a 512 MiB file on the local disk the cache lives
#           on; both after dropping the page cache (WARM=1: without), MiB/s and the ratio.
# and the peak RSS of the reading garagetytus mounts over every round (goal: <= 150 MiB).
#
#   bench/cache.sh [ROUNDS] [SECONDS]    (defaults 5 3; the release build; root; fio, s3fs)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
SECS=${2:-3}
GT=${GT:-$PWD/.build/release/garagetytus}
[ -x "$GT" ] || { echo "build first: swift build -c release" >&2; exit 1; }
S3FS=${S3FS:-$(command -v s3fs || true)}
[ -x "$S3FS" ] || { echo "s3fs is not installed (apt-get install s3fs)" >&2; exit 1; }
command -v fio >/dev/null || { echo "fio is not installed (apt-get install fio)" >&2; exit 1; }
. bench/lib.sh
gt_bench_home cache
"$GT" start >/dev/null
"$GT" bucket create blocks --ttl 24h --quota unlimited --confirm-yes-really >/dev/null
GW=http://127.0.0.1:$(gt_port gateway_port)
GRANT=$GARAGETYTUS_HOME/grant.json
(umask 077; "$GT" bucket grant blocks --to bench --perms read,write,list,delete --ttl 24h --json >"$GRANT")
python3 -c "import json, sys; g = json.load(open(sys.argv[1])); print(g['access_key'] + ':' + g['secret_key'])" "$GRANT" >"$GARAGETYTUS_HOME/s3fs.passwd"
chmod 600 "$GARAGETYTUS_HOME/s3fs.passwd"
A=$GARAGETYTUS_HOME/gt
B=$GARAGETYTUS_HOME/s3fs
BLOCKS=$GARAGETYTUS_HOME/data/blocks
LOCAL=$GARAGETYTUS_HOME/data/local.bin   # on the disk the block cache is on
mkdir -p "$A" "$B"
trap 'fusermount3 -u "$B" 2>/dev/null || true; "$GT" unmount "$A" >/dev/null 2>&1 || true; "$GT" stop >/dev/null 2>&1 || true; rm -rf "$GARAGETYTUS_HOME"' EXIT
mount_gt() { "$GT" mount --endpoint "$GW" --bucket blocks --credentials-file "$GRANT" "$A" >/dev/null; }
mount_pid() {
  python3 -c 'import glob, json, sys
for f in glob.glob(sys.argv[1] + "/data/mounts/*.json"):
    d = json.load(open(f))
    if d.get("mountpoint") == sys.argv[2]: print(d["pid"])' "$GARAGETYTUS_HOME" "$A"
}
peak=0
unmount_gt() {  # records the mount's peak RSS first
  local pid rss
  pid=$(mount_pid)
  rss=$( [ -n "$pid" ] && awk '/VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
  [ "${rss:-0}" -gt "$peak" ] && peak=$rss
  "$GT" unmount "$A" >/dev/null
}
mount_s3fs() {
  "$S3FS" blocks "$B" -o url="$GW" -o use_path_request_style -o endpoint=us-east-1 \
    -o passwd_file="$GARAGETYTUS_HOME/s3fs.passwd" -o sigv4 -o dbglevel=warn
  local deadline=$((SECONDS + 20))
  until mountpoint -q "$B"; do [ $SECONDS -lt $deadline ] || { echo "s3fs did not mount" >&2; exit 1; }; sleep 0.1; done
}
drop() { [ -n "${WARM:-}" ] || { sync; echo 3 >/proc/sys/vm/drop_caches; }; }
iops() {  # $1: file; prints fio's read IOPS
  fio --name=randread --filename="$1" --readonly --rw=randread --bs=4k --ioengine=psync --iodepth=1 --numjobs=1 \
    --time_based --runtime="$SECS" --invalidate=1 --norandommap --randrepeat=0 --output-format=json |
    python3 -c 'import json, sys; print("%.0f" % json.load(sys.stdin)["jobs"][0]["read"]["iops"])'
}
mibs() {  # $1: file, $2: MiB; prints MiB/s of a dd read
  local t0=$EPOCHREALTIME
  dd if="$1" of=/dev/null bs=1M status=none
  awk -v s="$2" -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", s / (b - a) }'
}
# The objects.
mount_gt
head -c $((256 << 20)) /dev/urandom >"$A/rand"
head -c $((512 << 20)) /dev/urandom >"$A/big"
"$GT" unmount "$A" >/dev/null   # (the peak RSS is of the reading mounts)
head -c $((512 << 20)) /dev/urandom >"$LOCAL"
mkdir -p bench/results
OUT=bench/results/cache-$(date +%Y%m%d-%H%M%S).txt
echo "bench/cache.sh $ROUNDS $SECS${WARM:+ (WARM)}, $(date -u +%FT%TZ), checkout $(git rev-parse --short HEAD), $(nproc) cores" | tee "$OUT"
rr=(); re=(); gi=(); si=(); gmi=(); lmi=()
for ((r = 1; r <= ROUNDS; r++)); do
  rm -rf "$BLOCKS"   # random reads start with an empty block cache
  mount_gt; drop; g=$(iops "$A/rand"); unmount_gt
  mount_s3fs; drop; s=$(iops "$B/rand"); fusermount3 -u "$B"
  ratio=$(awk -v a="$g" -v b="$s" 'BEGIN { printf "%.2f", a / b }')
  rr+=("$ratio")
  # reread after a remount: a first mount reads big whole (filling the cache), a second is timed
  rm -rf "$BLOCKS"; mount_gt; cat "$A/big" >/dev/null; unmount_gt
  mount_gt; drop; gm=$(mibs "$A/big" 512); unmount_gt
  drop; lm=$(mibs "$LOCAL" 512)
  ratio2=$(awk -v a="$gm" -v b="$lm" 'BEGIN { printf "%.2f", a / b }')
  re+=("$ratio2")
  gi+=("$g"); si+=("$s"); gmi+=("$gm"); lmi+=("$lm")
  echo "round $r: random 4K garagetytus $g IOPS, s3fs $s IOPS, ratio $ratio; reread after remount garagetytus $gm MiB/s, local disk $lm MiB/s, ratio $ratio2" | tee -a "$OUT"
done
OUT_TXT=$OUT gt_plot "${OUT%.txt}" "bench/cache.sh $ROUNDS $SECS, $(date -u +%F), $(git rev-parse --short HEAD)" \
  --series "garagetytus, random 4 KiB|IOPS|$(gt_csv "${gi[@]}")" --series "s3fs, random 4 KiB|IOPS|$(gt_csv "${si[@]}")" \
  --series "garagetytus, re-read after remount|MiB/s|$(gt_csv "${gmi[@]}")" --series "local disk, re-read|MiB/s|$(gt_csv "${lmi[@]}")" \
  --ratio "random reads vs s3fs|1|$(gt_csv "${rr[@]}")" --ratio "re-read vs local disk|0.8|$(gt_csv "${re[@]}")"
echo "median: random 4 KiB reads of a cold 256 MiB object $(printf '%s\n' "${rr[@]}" | gt_median)x s3fs (goal >= 1); re-read of 512 MiB after a remount $(printf '%s\n' "${re[@]}" | gt_median)x the local disk (goal >= 0.8); mount peak RSS $((peak / 1024)) MiB (goal <= 150)" | tee -a "$OUT"
