#!/usr/bin/env bash
# Does a cold `ls -l` cost grow linearly with the directory (issue 20, point 7)? Runs bench/ls.sh
# (garagetytus and the raw listing, no s3fs) for each SIZE, then writes the entries/s and the
# mount's peak RSS against size as JSON and as a PNG chart (matplotlib, installed from PyPI when
# missing), and prints the ratio of the biggest directory's entries/s to the smallest's.
#
#   bench/ls-sizes.sh [ROUNDS] [SIZE…]     (defaults: 3 rounds; 1000 10000 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1000 10000 100000)
python3 -c "import matplotlib" 2>/dev/null || pip install --quiet matplotlib
STAMP=$(date +%Y%m%d-%H%M%S)
mkdir -p bench/results
results=()
for n in "${SIZES[@]}"; do
  NO_S3FS=1 bash bench/ls.sh "$n" "$ROUNDS"
  results+=("$(ls -t bench/results/ls-"$n"-*.txt.json | head -1)")
done
OUT=bench/results/ls-sizes-$STAMP
python3 - "$OUT" "${results[@]}" <<'PY'
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
out, files = sys.argv[1], sys.argv[2:]
rows = sorted((json.load(open(f)) for f in files), key=lambda r: r["entries"])
json.dump(rows, open(out + ".json", "w"), indent=1)
fig, ax = plt.subplots(figsize=(7, 4))
xs = [r["entries"] for r in rows]
ax.plot(xs, [r["garagetytus_entries_per_s"] for r in rows], "o-", label="garagetytus mount, cold ls -l")
ax.plot(xs, [r["listing_alone_entries_per_s"] for r in rows], "s--", label="listing pages alone (raw ceiling)")
ax.set_xscale("log")
ax.set_ylim(bottom=0)
ax.set_xlabel("entries in the directory")
ax.set_ylabel("entries/s")
ax.set_title("Cold ls -l through the daemon, by directory size (median of rounds)")
for r in rows:
    ax.annotate("%d MiB" % r["mount_peak_rss_mib"], (r["entries"], r["garagetytus_entries_per_s"]),
                textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8)
ax.legend(loc="lower left")
fig.tight_layout()
fig.savefig(out + ".png", dpi=110)
first, last = rows[0], rows[-1]
print("%d entries list at %.2fx the entries/s of %d (goal: >= 0.8x); mount peak RSS at %d entries: %d MiB (goal: <= 150)" % (
    last["entries"], last["garagetytus_entries_per_s"] / first["garagetytus_entries_per_s"], first["entries"],
    last["entries"], last["mount_peak_rss_mib"]))
print("wrote %s.json and %s.png" % (out, out))
PY
