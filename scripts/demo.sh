#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (as root), builds garagetytus in release mode, starts the
# daemon and shows what it serves. The daemon keeps running; stop it with:
#   .build/release/garagetytus stop
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

echo "== building (release; the first build compiles the dependencies: a few minutes)"
swift build -c release 2>&1 | grep -E "error:|Compiling garagetytus|Build complete" || true
GT=.build/release/garagetytus
[ -x "$GT" ] || { echo "build failed: run 'swift build -c release' to see why" >&2; exit 1; }

echo "== garagetytus start"
"$GT" start
echo
echo "== garagetytus status"
"$GT" status
echo
echo "== curl -s http://127.0.0.1:3904/metrics   (the five seed metrics)"
curl -s http://127.0.0.1:3904/metrics | grep -E '^garagetytus_(disk_free_pct|mode|uptime_seconds|unclean_shutdown_total|watchdog_last_tick_unix_seconds)'
echo
echo "== garagetytus healthz"
"$GT" healthz
echo
data_dir=$("$GT" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["data_dir"])')
echo "== cat $data_dir/watchdog.json"
cat "$data_dir/watchdog.json"
echo
echo
echo "== a bucket, a one-hour grant, and aws-cli through the S3 front door on :3900"
bucket="demo-$(date +%s)"
"$GT" bucket create "$bucket" --ttl 1h --quota 100M
grant=$("$GT" bucket grant "$bucket" --to demo --perms read,write,list --ttl 30m --json)
key=$(echo "$grant" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_key"])')
secret=$(echo "$grant" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret_key"])')
id=$(echo "$grant" | python3 -c 'import json,sys; print(json.load(sys.stdin)["grant_id"])')
echo "minted $id (access key $key)"
export AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret AWS_DEFAULT_REGION=us-east-1
echo "hello from garagetytus" | aws --endpoint-url http://127.0.0.1:3900 s3 cp - "s3://$bucket/hello.txt"
aws --endpoint-url http://127.0.0.1:3900 s3 cp "s3://$bucket/hello.txt" -
"$GT" bucket revoke "$id"
refused=$(aws --endpoint-url http://127.0.0.1:3900 s3 ls "s3://$bucket/" 2>&1 || true)
if grep -q "was revoked" <<<"$refused"; then
  echo "after revoke the same key is refused: \"grant $id was revoked\""
fi
"$GT" bucket info "$bucket"
echo

echo "== the main job: a workspace mounted as a directory (artifacts)"
ART=.build/release/artifacts
ws="demo-ws-$(date +%s)"
"$ART" workspace create "$ws" --ttl 1h --quota 100M
mnt=$(mktemp -d /tmp/garagetytus-demo-XXXXXX)
cleanup() { "$ART" unmount "$mnt" >/dev/null 2>&1 || true; rmdir "$mnt" 2>/dev/null || true; }
trap cleanup EXIT
"$ART" mount "$ws" "$mnt"    # returns once the directory answers
echo "written through the mount" > "$mnt/notes.txt"
mkdir "$mnt/results" && seq 1 1000 > "$mnt/results/numbers.txt"
ls -lR "$mnt"
echo "-- the same objects through S3 (a read-only grant of the workspace's bucket, aws-cli):"
reader=$("$GT" bucket grant "$ws" --to demo-reader --perms read,list --ttl 30m --json)
AWS_ACCESS_KEY_ID=$(echo "$reader" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_key"])') \
AWS_SECRET_ACCESS_KEY=$(echo "$reader" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret_key"])') \
  aws --endpoint-url http://127.0.0.1:3900 s3 ls --recursive "s3://$ws/"
echo "-- the dashboard (buckets, grants, this mount, audit, traffic; the link works once, for 10 minutes):"
"$GT" dashboard
echo "-- the mount's own counters (.stats, the seed's three lines):"
grep -E '^(juicefs_fuse_ops_io_total|juicefs_object_request_data_bytes_GET|juicefs_blockcache_hits)' "$mnt/.stats"
"$ART" workspace show "$ws"
"$ART" unmount "$mnt"
rmdir "$mnt"
trap - EXIT
echo "unmounted; the workspace's bucket stays for its hour (artifacts workspace delete $ws --yes removes the workspace)"
echo
echo "The daemon keeps running (the buckets expire by themselves in an hour). Stop it with: $GT stop"
