#!/usr/bin/env bash
# Every goal of issue 20 in one run, each measured as its own script does (against s3fs and the
# raw ceiling in the same rounds; see each script's header), one after another, their summary
# lines collected at the end:
#   point 1  cold `ls -l` of 2000 files through the daemon           bench/ls.sh 2000 ROUNDS
#   point 2  the same after a remount against plain SeaweedFS          PLAIN=1 bench/ls.sh 2000 ROUNDS
#   point 3  random reads, re-read after remount, RSS                  bench/cache.sh ROUNDS 3
#   point 4  another client's changes seen through a mount             bench/feed.sh 20
#   point 5  rename of a 100 MiB file                                  bench/rename.sh 100 ROUNDS
#   point 7  `ls -l` rate and RSS over 1 K / 10 K / 100 K entries       bench/ls-sizes.sh (SIZES=1)
#
#   bench/issue20.sh [ROUNDS]     (default 5; root; s3fs, fio; about an hour with SIZES=1)
set -uo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
LOG=$(mktemp /tmp/gt-issue20-XXXXXX.log)
START=$(mktemp /tmp/gt-issue20-start-XXXXXX)  # charts newer than this are this run's
run() {  # $1: label; the rest: the command
  local label=$1; shift
  echo "== $label: $*" | tee -a "$LOG"
  "$@" 2>&1 | tee -a "$LOG" | tail -1 | sed "s/^/$label: /" >>"$LOG.summary"
}
run "point 1 (ls -l)" bench/ls.sh 2000 "$ROUNDS"
run "point 2 (ls -l, plain endpoint)" env PLAIN=1 bench/ls.sh 2000 "$ROUNDS"
run "point 3 (block cache)" bench/cache.sh "$ROUNDS" 3
run "point 4 (change feed)" bench/feed.sh 20
run "point 5 (rename)" bench/rename.sh 100 "$ROUNDS"
[ -z "${SIZES:-}" ] || run "point 7 (directory sizes)" bench/ls-sizes.sh
# One chart of every median ratio against its goal, from the charts' numbers the scripts wrote.
charts=($(grep -ho '^chart: [^ ]*' bench/results/*.txt 2>/dev/null | sed 's/^chart: //; s/\.png$/.json/' | while read -r f; do [ "$f" -nt "$START" ] && echo "$f"; done))
if [ ${#charts[@]} -gt 0 ] && python3 bench/plot.py --summary "bench/results/issue20-$(date +%Y%m%d-%H%M%S)" \
     "issue20.sh $ROUNDS, $(date -u +%F), $(git rev-parse --short HEAD)" "${charts[@]}" >>"$LOG.summary"; then :; fi
echo
echo "summary (whole output in $LOG):"
cat "$LOG.summary"
rm -f "$LOG.summary" "$START"
