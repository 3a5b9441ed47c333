#!/usr/bin/env bash
# Load held (issue 7): 32 S3 clients through the gateway (mixed PUT/GET/LIST/DELETE, 4 KiB to
# 64 MiB) and 8 writers + 8 readers through one mount, at once, for SECONDS (default 600).
# Fails on any error, any corrupted object, or RSS / descriptor growth beyond 20 % after warm-up;
# prints throughput, p50/p99 per operation and peak RSS. The test suite runs the same test for 60 s.
#
#   bench/soak.sh [SECONDS]          (uses the debug test build: swift build --build-tests)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-600}
swift build --build-tests >/dev/null
mkdir -p bench/results
OUT=bench/results/soak-$(date +%Y%m%d-%H%M%S).txt
GT_HEAVY=1 GT_SOAK_SECONDS=$SECONDS_TO_RUN swift test --skip-build --filter SoakTests 2>&1 \
  | grep -E "^soak:|✔|✘" | tee "$OUT"
echo "results: $OUT"
