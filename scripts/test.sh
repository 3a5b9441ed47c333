#!/usr/bin/env bash
# Runs the whole test suite: unit tests (in memory) and integration tests (real SeaweedFS engine,
# real processes, a real tmpfs). Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --tests

# Every directory a test makes (homes, mountpoints, caches) is listed in its run's
# $GT_RUN_DIR/homes. A run's leftovers — what a test killed mid-way did not clean up — are ended
# by those paths alone: mounts under them unmounted, processes whose command line or environment
# names one of them killed. Another checkout's run (its runner still alive) is never touched.
reap_run() {
  local run=$1 list=$1/homes.sorted pid
  if [ -f "$run/homes" ]; then
    grep -E '^/tmp/gt-.' "$run/homes" | sort -u > "$list" || true
    awk 'NR == FNR {h[$0]; next} {for (d in h) if ($2 == d || index($2, d "/") == 1) print $2}' "$list" /proc/mounts |
      sort -ru | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    for pid in $(grep -lsaF -f "$list" /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 | sort -u); do
      [ "$pid" = "$$" ] || kill -9 "$pid" 2>/dev/null || true
    done
    [ -n "${GT_KEEP_HOMES:-}" ] || xargs -r rm -rf -- < "$list"
  fi
  rm -rf -- "$run"
}
for run in /tmp/gt-run.*; do
  [ -d "$run" ] || continue
  pid=$(cat "$run/runner.pid" 2>/dev/null || echo "")
  if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then reap_run "$run"; fi
done
GT_RUN_DIR=$(mktemp -d /tmp/gt-run.XXXXXX)
echo $$ > "$GT_RUN_DIR/runner.pid"
export GT_RUN_DIR

log=$(mktemp /tmp/garagetytus-test.XXXXXX)
trap 'rm -f "$log"; reap_run "$GT_RUN_DIR"' EXIT
echo "building (a first build compiles the dependencies: a few minutes on 2 cores)..."
if ! swift build --build-tests >"$log" 2>&1; then
  grep -E "error:" "$log" | sort -u | head -40
  tail -20 "$log"
  echo "0 passed, 1 failed"
  exit 1
fi
set +e
swift test --skip-build 2>&1 | tee "$log" | grep -vE "^(◇|↳)|started\.$"
rc=${PIPESTATUS[0]}
# The heavy tests run alone afterwards (a 5 GiB file through a mount would starve the parallel
# ones of CPU and disk); GT_QUICK=1 leaves them out of a local run.
if [ -z "${GT_QUICK:-}" ]; then
  echo "tests run alone: a file larger than 5 GiB through a mount; the engine adapter in-process; a SeaweedFS cluster on four namespace hosts; a 60 s load soak..."
  GT_HEAVY=1 swift test --skip-build --filter "aFileLargerThanFiveGiBIsOneObject|EngineAdapterTests" 2>&1 | tee -a "$log" | grep -vE "^(◇|↳)|started\.$"
  heavy=${PIPESTATUS[0]}
  [ "$rc" -ne 0 ] || rc=$heavy
  # Alone as well: beside it the in-process engine of EngineAdapterTests did not start within 30 s.
  GT_HEAVY=1 swift test --skip-build --filter ClusterTests 2>&1 | tee -a "$log" | grep -vE "^(◇|↳)|started\.$"
  heavy=${PIPESTATUS[0]}
  [ "$rc" -ne 0 ] || rc=$heavy
  GT_HEAVY=1 swift test --skip-build --filter SoakTests 2>&1 | tee -a "$log" | grep -vE "^(◇|↳)|started\.$"
  heavy=${PIPESTATUS[0]}
  [ "$rc" -ne 0 ] || rc=$heavy
fi
set -e

# A plain closing line: counts of Swift Testing tests.
passed=$(grep -E '^✔ Test .* passed after' "$log" | grep -vc '^✔ Test run with' || true)
failed=$(grep -E '^✘ Test .* failed after' "$log" | grep -vc '^✘ Test run with' || true)
echo "$passed passed, $failed failed"
exit "$rc"
