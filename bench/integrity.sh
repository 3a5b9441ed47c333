#!/usr/bin/env bash
# Random-I/O integrity through a mount (issue 16): fio writes and reads 4 KiB blocks at random
# with a CRC32C header in each (psync and mmap, two jobs each, 32 MiB per job) and checks every
# block it reads back; then one file written at random is checked again after a remount, from
# the store. Any bad block fails the script (fio's --verify_fatal).
#
#   bench/integrity.sh [SIZE]     (default 32M; needs fio; the release build if there is one; root)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-32M}
GT=${GT:-$PWD/.build/release/garagetytus}
[ -x "$GT" ] || GT=$PWD/.build/debug/garagetytus
[ -x "$GT" ] || { echo "build first: swift build -c release" >&2; exit 1; }
command -v fio >/dev/null || { echo "fio is not installed (apt-get install fio)" >&2; exit 1; }
. bench/lib.sh
gt_bench_home integrity
"$GT" start >/dev/null
"$GT" bucket create integrity --ttl 24h --quota unlimited --confirm-yes-really >/dev/null
gt_bench_grant integrity
M=$GARAGETYTUS_HOME/mnt
mkdir -p "$M"
trap 'cd /; "$GT" unmount "$M" >/dev/null 2>&1 || true; "$GT" stop >/dev/null 2>&1 || true; rm -rf "$GARAGETYTUS_HOME"' EXIT
mount_gt() { "$GT" mount --endpoint "$GW" --bucket integrity --credentials-file "$GRANT" "$M" >/dev/null; }
check() {  # $1: what; the rest: fio arguments
  local what=$1 out
  shift
  out=$(cd "$GARAGETYTUS_HOME" && fio --directory="$M" --bs=4k --verify=crc32c --verify_fatal=1 "$@" 2>&1) || { echo "$out" >&2; echo "FAILED: $what" >&2; exit 1; }
  grep -q "err= 0" <<<"$out" || { echo "$out" >&2; echo "FAILED: $what" >&2; exit 1; }
  echo "verified: $what"
}
mount_gt
check "random read/write, psync, 2 jobs x $SIZE" --name=rw-psync --ioengine=psync --rw=randrw --size="$SIZE" --numjobs=2 --group_reporting
check "random read/write, mmap, 2 jobs x $SIZE" --name=rw-mmap --ioengine=mmap --rw=randrw --size="$SIZE" --numjobs=2 --group_reporting
check "random writes, $SIZE" --name=kept --ioengine=psync --rw=randwrite --size="$SIZE"
cd / && "$GT" unmount "$M" >/dev/null && mount_gt
check "the same file after a remount" --name=kept --ioengine=psync --rw=randwrite --size="$SIZE" --verify_only
