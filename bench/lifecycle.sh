#!/usr/bin/env bash
# Daemon lifecycle benchmark: start-until-ready, restart, stop, idle RSS (engine excluded).
# The baseline, measured in the same run, is the bare engine: `weed mini` with the same flags,
# timed until it answers a signed S3 request, and stopped with SIGTERM (what it takes unaided).
#
#   bench/lifecycle.sh [REPS]        (default 5; needs a release build: swift build -c release)
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${1:-5}
GT=${GT:-.build/release/garagetytus}
[ -x "$GT" ] || { echo "build first: swift build -c release" >&2; exit 1; }
. bench/lib.sh
gt_bench_home bench

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc; }

start_t=(); stop_t=(); restart_t=(); base_start=(); base_stop=()
for r in $(seq 1 "$REPS"); do
  t0=$(now); "$GT" start >/dev/null; t1=$(now); start_t+=("$(elapsed "$t0" "$t1")")
  t0=$(now); "$GT" restart >/dev/null; t1=$(now); restart_t+=("$(elapsed "$t0" "$t1")")
  t0=$(now); "$GT" stop >/dev/null; t1=$(now); stop_t+=("$(elapsed "$t0" "$t1")")
done

# Idle RSS of the daemon (engine excluded), after 10 s idle.
"$GT" start >/dev/null
sleep 10
dpid=$("$GT" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
epid=$("$GT" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["engine"]["pid"])')
rss_daemon=$(awk '/VmRSS/ {print $2/1024}' /proc/$dpid/status)
rss_engine=$(awk '/VmRSS/ {print $2/1024}' /proc/$epid/status)
anon_daemon=$(awk '/RssAnon/ {print $2/1024}' /proc/$dpid/status)
pss_daemon=$(awk '/^Pss:/ {print $2/1024}' /proc/$dpid/smaps_rollup)
"$GT" stop >/dev/null

# Baseline: the bare engine with the daemon's own flags and identity.
weed_bin=$(python3 -c 'import shutil,subprocess; p=shutil.which("weed"); print(subprocess.run(["pyenv","which","weed"],capture_output=True,text=True).stdout.strip() if p and "/shims/" in p else p)')
read -r ak sk < <(gt_engine_keys)
s3port=$(gt_port s3_port)
args=(mini -dir="$GARAGETYTUS_HOME/data/engine" -ip=127.0.0.1 -ip.bind=127.0.0.1
  -master.port=$(gt_port master_port) -master.port.grpc=$(gt_port master_grpc_port) -volume.port=$(gt_port volume_port) -volume.port.grpc=$(gt_port volume_grpc_port)
  -filer.port=$(gt_port filer_port) -filer.port.grpc=$(gt_port filer_grpc_port) -s3.port=$s3port -s3.port.grpc=$(gt_port s3_grpc_port)
  -s3.port.iceberg=0 -s3.port.lance=0 -admin.port=$(gt_port admin_port) -admin.port.grpc=$(gt_port admin_grpc_port) -admin.ui=false
  -webdav=false -master.telemetry=false -metricsPort=0 -s3.config="$GARAGETYTUS_HOME/data/engine/s3-identities.json")
for r in $(seq 1 "$REPS"); do
  t0=$(now)
  "$weed_bin" "${args[@]}" >/dev/null 2>&1 &
  wp=$!
  until [ "$(curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 aws:amz:us-east-1:s3 -u "$ak:$sk" "http://127.0.0.1:$s3port/")" = 200 ]; do sleep 0.02; done
  t1=$(now); base_start+=("$(elapsed "$t0" "$t1")")
  t0=$(now); kill -TERM $wp; wait $wp 2>/dev/null || true; t1=$(now); base_stop+=("$(elapsed "$t0" "$t1")")
done

m() { printf '%s\n' "$@" | gt_median; }
ms=$(m "${start_t[@]}"); mr=$(m "${restart_t[@]}"); mst=$(m "${stop_t[@]}"); bs=$(m "${base_start[@]}"); bst=$(m "${base_stop[@]}")
ratio() { echo "scale=2; $1 / $2" | bc; }
echo "| measure (median of $REPS) | garagetytus | bare weed mini (baseline) | ratio | goal |"
echo "|---|---|---|---|---|"
printf '| start until ready | %.2f s | %.2f s | %s | < 2 s |\n' "$ms" "$bs" "$(ratio "$ms" "$bs")"
printf '| restart | %.2f s | %.2f s (stop + start) | %s | < 3 s |\n' "$mr" "$(echo "$bs + $bst" | bc)" "$(ratio "$mr" "$(echo "$bs + $bst" | bc)")"
printf '| stop | %.2f s | %.2f s (SIGTERM, unaided) | %s | < 2 s |\n' "$mst" "$bst" "$(ratio "$mst" "$bst")"
printf '| idle RSS, daemon only | %.1f MiB | engine: %.1f MiB | | < 40 MiB |\n' "$rss_daemon" "$rss_engine"
printf '| idle PSS / anonymous RSS, daemon | %.1f MiB / %.1f MiB | | | |\n' "$pss_daemon" "$anon_daemon"
