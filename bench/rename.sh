#!/usr/bin/env bash
# Rename of a SIZE_MB file through the daemon's front door (issue 20, point 5): `mv` in a
# garagetytus mount (one PUT ?renameObject) against `mv` in an s3fs mount (server-side copy, then
# delete), both on one bucket with one grant, interleaved for ROUNDS rounds. Prints each round's
# seconds and the median ratio s3fs / garagetytus.
#
#   bench/rename.sh [SIZE_MB] [ROUNDS]      (defaults 100 5; the release build if there is one; root)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-100}
ROUNDS=${2:-5}
GT=${GT:-$PWD/.build/release/garagetytus}
[ -x "$GT" ] || GT=$PWD/.build/debug/garagetytus
[ -x "$GT" ] || { echo "build first: swift build -c release" >&2; exit 1; }
S3FS=${S3FS:-$(command -v s3fs)}
[ -x "$S3FS" ] || { echo "s3fs is not installed (apt-get install s3fs)" >&2; exit 1; }
. bench/lib.sh
gt_bench_home rename
"$GT" start >/dev/null
"$GT" bucket create renames --ttl 24h --quota unlimited --confirm-yes-really >/dev/null
gt_bench_grant renames
A=$GARAGETYTUS_HOME/gt
B=$GARAGETYTUS_HOME/s3fs
mkdir -p "$A" "$B"
trap 'fusermount3 -u "$B" 2>/dev/null || true; "$GT" unmount "$A" >/dev/null 2>&1 || true; "$GT" stop >/dev/null 2>&1 || true; rm -rf "$GARAGETYTUS_HOME"' EXIT
"$GT" mount --endpoint "$GW" --bucket renames --credentials-file "$GRANT" "$A" >/dev/null
gt_mount_s3fs renames "$B"
mkdir -p bench/results
OUT=bench/results/rename-$(date +%Y%m%d-%H%M%S).txt
echo "bench/rename.sh $SIZE $ROUNDS, $(date -u +%FT%TZ), checkout $(git rev-parse --short HEAD), $(nproc) cores, $(basename "$(dirname "$(dirname "$GT")")")/$(basename "$(dirname "$GT")") build" | tee "$OUT"
timed_mv() {  # $1 $2: seconds of mv (the file is written and closed before, through the same mount)
  local t0=$EPOCHREALTIME
  mv "$1" "$2"
  awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f", b - a }'
}
ratios=(); gtt=(); s3t=()
for ((r = 1; r <= ROUNDS; r++)); do
  dd if=/dev/urandom of="$A/g$r" bs=1M count="$SIZE" conv=fsync status=none
  gt=$(timed_mv "$A/g$r" "$A/g$r.moved")
  dd if=/dev/urandom of="$B/s$r" bs=1M count="$SIZE" conv=fsync status=none
  s3=$(timed_mv "$B/s$r" "$B/s$r.moved")
  [ "$(stat -c %s "$A/g$r.moved")" = $((SIZE << 20)) ] || { echo "the renamed file is not whole" >&2; exit 1; }
  ratio=$(awk -v a="$s3" -v b="$gt" 'BEGIN { printf "%.1f", a / b }')
  ratios+=("$ratio"); gtt+=("$gt"); s3t+=("$s3")
  echo "round $r: garagetytus ${gt} s, s3fs ${s3} s, ratio $ratio" | tee -a "$OUT"
  rm -f "$A/g$r.moved" "$B/s$r.moved"
done
OUT_TXT=$OUT gt_plot "${OUT%.txt}" "bench/rename.sh $SIZE $ROUNDS, rename of $SIZE MiB, $(date -u +%F), $(git rev-parse --short HEAD)" \
  --series "garagetytus|seconds|$(gt_csv "${gtt[@]}")" --series "s3fs|seconds|$(gt_csv "${s3t[@]}")" \
  --ratio "rename, s3fs time / ours|10|$(gt_csv "${ratios[@]}")"
echo "median: rename of $SIZE MiB is $(printf '%s\n' "${ratios[@]}" | gt_median)x s3fs (goal: >= 10x)" | tee -a "$OUT"
