#!/usr/bin/env bash
# How soon another client's change shows in a mount (issue 20, point 4): a client PUTs a new
# object, overwrites one, copies one onto itself with new metadata (s3fs's chmod) and deletes one,
# ROUNDS times each, through the daemon's front door; after each change a poller (every 0.5 ms)
# waits until the mount shows it, in three mounts of the bucket at once — garagetytus following
# the change feed (default), garagetytus with --no-change-feed (the metadata TTL, 1 s), and s3fs
# with its defaults. Every mount has looked at the name (stat, read) before the change, as an
# application would. Prints the median and max milliseconds per change and mount (3000: not
# seen within 3 s, where the poller gives up). The times include the client's own request.
#
#   bench/feed.sh [ROUNDS]      (default 20; the release build if there is one; root)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-20}
GT=${GT:-$PWD/.build/release/garagetytus}
[ -x "$GT" ] || GT=$PWD/.build/debug/garagetytus
[ -x "$GT" ] || { echo "build first: swift build -c release" >&2; exit 1; }
S3FS=${S3FS:-$(command -v s3fs)}
[ -x "$S3FS" ] || { echo "s3fs is not installed (apt-get install s3fs)" >&2; exit 1; }
. bench/lib.sh
gt_bench_home feed
"$GT" start >/dev/null
"$GT" bucket create feed --ttl 24h --quota unlimited --confirm-yes-really >/dev/null
gt_bench_grant feed
A=$GARAGETYTUS_HOME/followed
P=$GARAGETYTUS_HOME/ttl
B=$GARAGETYTUS_HOME/s3fs
mkdir -p "$A" "$P" "$B"
trap 'fusermount3 -u "$B" 2>/dev/null || true; "$GT" unmount "$A" >/dev/null 2>&1 || true; "$GT" unmount "$P" >/dev/null 2>&1 || true; "$GT" stop >/dev/null 2>&1 || true; rm -rf "$GARAGETYTUS_HOME"' EXIT
"$GT" mount --endpoint "$GW" --bucket feed --credentials-file "$GRANT" "$A" >/dev/null
"$GT" mount --endpoint "$GW" --bucket feed --credentials-file "$GRANT" --no-change-feed "$P" >/dev/null
gt_mount_s3fs feed "$B"
deadline=$((SECONDS + 20))
until grep -q '^garagetytus_changefeed_up 1' "$A/.stats"; do [ $SECONDS -lt $deadline ] || { echo "the mount does not follow the feed" >&2; exit 1; }; sleep 0.1; done
python3 - "$GRANT" "$ROUNDS" "$A" "$P" "$B" <<'PY'
import json, os, statistics, sys, threading, time
import boto3
g, rounds = json.load(open(sys.argv[1])), int(sys.argv[2])
mounts = {"garagetytus (feed)": sys.argv[3], "garagetytus (TTL 1 s)": sys.argv[4], "s3fs": sys.argv[5]}
s3 = boto3.client("s3", endpoint_url=g["endpoint_url"], aws_access_key_id=g["access_key"],
                  aws_secret_access_key=g["secret_key"], region_name="us-east-1")

def read(p):
    try:
        with open(p, "rb") as f: return f.read()
    except OSError: return None

def mode(p):
    try: return os.stat(p).st_mode & 0o777
    except OSError: return None

def wait(cond, limit=3.0):  # not seen within 3 s: reported as 3000
    t = time.monotonic()
    while time.monotonic() - t < limit:
        if cond(): return (time.monotonic() - t) * 1000
        time.sleep(0.0005)
    return limit * 1000

results = {(c, m): [] for c in ("put", "overwrite", "chmod", "delete") for m in mounts}
def measure(change, do, cond):
    # Each mount polls in its own thread, all started before the change.
    ready, times = threading.Barrier(len(mounts) + 1), {}
    def poll(name, root):
        ready.wait()
        times[name] = wait(lambda: cond(root))
    threads = [threading.Thread(target=poll, args=(n, r)) for n, r in mounts.items()]
    for t in threads: t.start()
    ready.wait(); do()
    for t in threads: t.join()
    for n in mounts: results[(change, n)].append(times[n])

for r in range(rounds):
    key = f"r{r}.txt"
    for root in mounts.values(): read(os.path.join(root, key))  # a negative lookup each mount caches
    measure("put", lambda: s3.put_object(Bucket="feed", Key=key, Body=b"one", Metadata={"mode": str(0o100644)}),
            lambda root: read(os.path.join(root, key)) == b"one")
    measure("overwrite", lambda: s3.put_object(Bucket="feed", Key=key, Body=b"two, longer", Metadata={"mode": str(0o100644)}),
            lambda root: read(os.path.join(root, key)) == b"two, longer")
    measure("chmod", lambda: s3.copy_object(Bucket="feed", Key=key, CopySource=f"feed/{key}", Metadata={"mode": str(0o100600)},
                                            MetadataDirective="REPLACE"),
            lambda root: mode(os.path.join(root, key)) == 0o600)
    measure("delete", lambda: s3.delete_object(Bucket="feed", Key=key), lambda root: read(os.path.join(root, key)) is None)

print(f"{'change':10} " + " ".join(f"{m:>24}" for m in mounts) + "   (median / max ms, %d rounds)" % rounds)
for c in ("put", "overwrite", "chmod", "delete"):
    print(f"{c:10} " + " ".join(f"{statistics.median(results[(c, m)]):>11.1f} / {max(results[(c, m)]):>8.1f}" for m in mounts))
worst = {m: max(statistics.median(results[(c, m)]) for c in ("put", "overwrite", "chmod", "delete")) for m in mounts}
print("median: every change seen within " + ", ".join(f"{w:.1f} ms ({m})" for m, w in worst.items()) + " in the median (goal <= 100 ms with the feed)")
PY
