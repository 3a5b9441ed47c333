#!/usr/bin/env bash
# Small-file creates through the mount as a ratio to raw PUTs, interleaved so both see the same
# machine: each round sends N sequential 4 KiB PUTs with one curl process over one keep-alive
# connection (the raw rate, as the shared harness measures it), then creates N 4 KiB files in the
# mount the way the harness does (`printf > file`, durable at close). The per-round ratios and
# their median are printed and kept under bench/results/. Also the mount's CPU per file.
#
#   bench/creates.sh [N] [ROUNDS]        (defaults 1000 5; needs swift build -c release)
#   MOUNT_FLAGS=--no-data-cache bench/creates.sh   (the same without the block cache)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
ROUNDS=${2:-5}
GT=${GT:-$PWD/.build/release/garagetytus}
[ -x "$GT" ] || { echo "build first: swift build -c release" >&2; exit 1; }
. bench/lib.sh
gt_bench_home creates
# The raw PUTs and the mount go to the engine's own S3 port: not sealed away for this benchmark.
sed -i 's/^isolation = .*/isolation = "none"/' "$GARAGETYTUS_HOME/config/garagetytus.toml"
"$GT" start >/dev/null
ENG=$(gt_port s3_port)
read -r AK SK < <(gt_engine_keys)
"$GT" bucket create creates --ttl 24h --quota unlimited --confirm-yes-really >/dev/null
MNT=$GARAGETYTUS_HOME/mnt
mkdir -p "$MNT"
AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK "$GT" mount --endpoint "http://127.0.0.1:$ENG" --bucket creates \
  --cache-dir "$GARAGETYTUS_HOME/cache" ${MOUNT_FLAGS:-} "$MNT" >/dev/null
trap '"$GT" unmount "$MNT" >/dev/null 2>&1 || true; "$GT" stop >/dev/null 2>&1 || true; rm -rf "$GARAGETYTUS_HOME"' EXIT
MP=$(pgrep -f "$(basename "$GT") mount.*$MNT" | head -1)
[ -n "$MP" ] || { echo "the mount process was not found" >&2; exit 1; }
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
BLK=$(head -c 3072 /dev/urandom | base64 -w0)  # 4096 bytes
printf '%s' "$BLK" >"$GARAGETYTUS_HOME/blk"
mkdir -p bench/results
OUT=bench/results/creates-$(date +%Y%m%d-%H%M%S).txt
echo "bench/creates.sh $N $ROUNDS, $(date -u +%FT%TZ), checkout $(git rev-parse --short HEAD), binary $GT, $(nproc) cores" | tee "$OUT"
ratios=(); raws=(); mounts=()
for ((r = 1; r <= ROUNDS; r++)); do
  for ((i = 1; i <= N; i++)); do
    printf 'upload-file = "%s"\nurl = "http://127.0.0.1:%s/creates/raw%d/f%d"\noutput = "/dev/null"\n' \
      "$GARAGETYTUS_HOME/blk" "$ENG" "$r" "$i"
  done >"$GARAGETYTUS_HOME/put.cfg"
  t0=$EPOCHREALTIME
  curl -sS --fail --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" -K "$GARAGETYTUS_HOME/put.cfg"
  t1=$EPOCHREALTIME
  mkdir "$MNT/m$r"
  c0=$(cpu "$MP")
  t2=$EPOCHREALTIME
  for ((i = 1; i <= N; i++)); do printf '%s' "$BLK" >"$MNT/m$r/f$i"; done
  t3=$EPOCHREALTIME
  c1=$(cpu "$MP")
  line=$(awk -v r="$r" -v n="$N" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v c0="$c0" -v c1="$c1" 'BEGIN {
    raw = n / (b - a); m = n / (d - c)
    printf "round %d: raw PUT %.0f/s, mount creates %.0f/s, ratio %.2f, mount CPU %.2f ms/file", r, raw, m, m / raw, (c1 - c0) * 10 / n }')
  echo "$line" | tee -a "$OUT"
  ratios+=("$(echo "$line" | sed 's/.*ratio \([0-9.]*\).*/\1/')")
  raws+=("$(echo "$line" | sed 's/.*raw PUT \([0-9]*\)\/s.*/\1/')")
  mounts+=("$(echo "$line" | sed 's/.*mount creates \([0-9]*\)\/s.*/\1/')")
done
OUT_TXT=$OUT gt_plot "${OUT%.txt}" "bench/creates.sh $N $ROUNDS, small creates, $(date -u +%F), $(git rev-parse --short HEAD)" \
  --series "garagetytus mount, creates|files/s|$(gt_csv "${mounts[@]}")" --series "raw PUTs (ceiling)|files/s|$(gt_csv "${raws[@]}")" \
  --ratio "creates / raw PUTs|0.9|$(gt_csv "${ratios[@]}")"
median=$(printf '%s\n' "${ratios[@]}" | gt_median)
echo "median ratio (mount creates / raw PUTs): $median" | tee -a "$OUT"
echo "results: $OUT"
