#!/usr/bin/env bash
# pjdfstest (syscall conformance: 8 798 assertions over chmod, chown, link, mkdir, mkfifo, mknod,
# open, rename, rmdir, symlink, truncate, unlink, utimensat) on a mount through a throwaway daemon,
# as root, with --allow-other --xattr. Prints prove's summary and the failed assertions per test
# file; the last line is the total. pjdfstest is not packaged: build it from its source
# (github.com/pjd/pjdfstest: autoreconf -ifs && ./configure && make pjdfstest) and give its tests.
#
#   PJDFSTEST=/path/to/pjdfstest/tests bench/pjdfstest.sh [TEST-DIR-OR-FILE …]
set -uo pipefail
cd "$(dirname "$0")/.."
[ -n "${PJDFSTEST:-}" ] || { echo "set PJDFSTEST to the tests directory of a pjdfstest built from its source" >&2; exit 1; }
GT=${GT:-$PWD/.build/release/garagetytus}
[ -x "$GT" ] || GT=$PWD/.build/debug/garagetytus
[ -x "$GT" ] || { echo "build first: swift build -c release" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "pjdfstest needs root (it switches users)" >&2; exit 1; }
. bench/lib.sh
gt_bench_home pjd
"$GT" start >/dev/null
"$GT" bucket create pjd --ttl 24h --quota unlimited --confirm-yes-really >/dev/null
gt_bench_grant pjd
M=$GARAGETYTUS_HOME/gt
mkdir -p "$M"
chmod 755 "$GARAGETYTUS_HOME"
trap 'cd /; "$GT" unmount "$M" >/dev/null 2>&1; "$GT" stop >/dev/null 2>&1; rm -rf "$GARAGETYTUS_HOME"' EXIT
"$GT" mount --endpoint "$GW" --bucket pjd --credentials-file "$GRANT" --allow-other --xattr "$M" >/dev/null || exit 1
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("$PJDFSTEST")
run() {  # $1: mountpoint, $2: label
  local out=$GARAGETYTUS_HOME/$2.out
  (cd "$1" && prove -r "${targets[@]}" >"$out" 2>&1)
  echo "== $2"
  awk '/Wstat/ { n = $0; sub(/.*Failed: /, "", n); sub(/\).*/, "", n); if (n == 0) next; split($1, p, "/tests/"); printf "  %-18s %s failed\n", p[2], n; total += n }
       /^Files=/ { files = $0 } END { print "  " files; printf "%s: %d assertions failed\n", "'"$2"'", total }' "$out"
}
run "$M" garagetytus

