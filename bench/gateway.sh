#!/usr/bin/env bash
# S3 front door benchmark: every figure is a ratio to the engine's own S3 port (its baseline), or
# a time of its own, measured in the same run on one daemon:
#   - 512 MiB single PUT and GET with curl (C, so the client is not the bottleneck), gateway vs engine,
#     ROUNDS (default 6) interleaved rounds, the median of the rounds' ratios
#   - 4 KiB GET latency (p50/p99) over a keep-alive connection, gateway vs engine: the added p50
#   - 32 concurrent clients (PUT/GET/LIST of 4 KiB objects) for DURATION seconds: errors, ops/s
#   - grant mint p50 (the CLI, process start included) and revoke/deny-all time until the first 403
#   - the daemon's peak RSS while a SIZE_MB body streams through it
#
#   bench/gateway.sh [SIZE_MB] [DURATION]        (defaults 512 60; needs swift build -c release)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-512}
DURATION=${2:-60}
GT=${GT:-$PWD/.build/release/garagetytus}
[ -x "$GT" ] || { echo "build first: swift build -c release" >&2; exit 1; }
. bench/lib.sh
gt_bench_home gwbench
"$GT" start >/dev/null
mkdir -p bench/results
OUT=bench/results/gateway-$(date +%Y%m%d-%H%M%S).json
GT="$GT" SIZE_MB=$SIZE DURATION=$DURATION GATEWAY_PORT=$(gt_port gateway_port) ENGINE_PORT=$(gt_port s3_port) \
  ENGINE_SOCKET=$GARAGETYTUS_HOME/data/engine/s3.sock \
  IDENTITY=$GARAGETYTUS_HOME/config/engine-identity.json PIDFILE=$GARAGETYTUS_HOME/data/garagetytus.pid \
  python3 bench/gateway.py | tee "$OUT"
echo "results: $OUT"
