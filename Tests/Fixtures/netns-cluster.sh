#!/usr/bin/env bash
# Hosts for the multi-host tests, made of network namespaces this script creates itself: a
# switch namespace with a bridge, and N host namespaces each with one veth on it and an address
# 10.77.<net>.<i>/24 that exists only inside them (nothing else is ever addressed), plus a
# SeaweedFS cluster across them: host 1 runs the master, the filer and the S3 server; hosts 2..N
# each run a volume server (replication 001: every object on two of them).
#
#   netns-cluster.sh up DIR N     → DIR/env (names, addresses), DIR/pids; returns when S3 answers
#   netns-cluster.sh down DIR     → kills what DIR/pids lists, deletes the namespaces and links
#   netns-cluster.sh kill DIR NAME → SIGKILLs one part (e.g. volume3)
#
# Everything is named after DIR's random tag, so runs never touch each other's namespaces.
set -euo pipefail
cmd=$1 dir=$2
tagfile=$dir/tag
case $cmd in
up)
  n=$3
  mkdir -p "$dir"
  tag=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
  echo "$tag" >"$tagfile"
  net=$(( (16#${tag:0:2} % 200) + 20 ))
  sw=gtsw$tag
  ip netns add "$sw"
  ip -n "$sw" link add br0 type bridge
  ip -n "$sw" link set br0 up
  : >"$dir/env"
  for i in $(seq 1 "$n"); do
    ns=gth$i$tag
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip link add "gv$i$tag" netns "$sw" type veth peer name eth0 netns "$ns"
    ip -n "$sw" link set "gv$i$tag" master br0 up
    ip -n "$ns" addr add "10.77.$net.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    echo "HOST$i=$ns" >>"$dir/env"
    echo "ADDR$i=10.77.$net.$i" >>"$dir/env"
  done
  . "$dir/env"
  start() {  # name namespace args...
    local name=$1 ns=$2; shift 2
    mkdir -p "$dir/$name"
    # Every part reads the cluster's security.toml from its working directory.
    cp "$dir/security/security.toml" "$dir/$name/"
    # In its own directory: the filer keeps its store (filerldb2) in its working directory.
    (cd "$dir/$name" && exec ip netns exec "$ns" "$@") >"$dir/$name.log" 2>&1 </dev/null &
    echo "$name $!" >>"$dir/pids"
  }
  weed=$(command -v weed)
  cat >"$dir/s3.json" <<JSON
{"identities": [{"name": "admin", "credentials": [{"accessKey": "GTCLUSTERADMIN00001", "secretKey": "clustersecret$tag$tag$tag"}],
  "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
JSON
  printf '{"access_key_id": "GTCLUSTERADMIN00001", "secret_access_key": "clustersecret%s%s%s"}\n' "$tag" "$tag" "$tag" >"$dir/identity.json"
  chmod 600 "$dir/identity.json" "$dir/s3.json"
  # The filer signs: its HTTP API wants a JWT for reads and writes (the daemon's listings sign).
  mkdir -p "$dir/security"
  cat >"$dir/security/security.toml" <<TOML
[jwt.filer_signing]
key = "filerwrite$tag$tag$tag"
expires_after_seconds = 60

[jwt.filer_signing.read]
key = "filerread$tag$tag$tag"
expires_after_seconds = 60
TOML
  chmod 600 "$dir/security/security.toml"
  echo "SECURITY=$dir/security/security.toml" >>"$dir/env"
  start master "$HOST1" "$weed" -logtostderr master -ip="$ADDR1" -ip.bind="$ADDR1" -port=9333 -mdir="$dir/master" \
    -defaultReplication=001 -volumeSizeLimitMB=64 -telemetry=false
  for i in $(seq 2 "$n"); do
    h=HOST$i a=ADDR$i
    start "volume$i" "${!h}" "$weed" -logtostderr volume -ip="${!a}" -ip.bind="${!a}" -port=8080 -dir="$dir/volume$i" \
      -mserver="$ADDR1:9333" -max=100 -dataCenter=dc1 -rack=r1
  done
  start filer "$HOST1" "$weed" -logtostderr filer -ip="$ADDR1" -ip.bind="$ADDR1" -port=8888 -master="$ADDR1:9333" \
    -defaultReplicaPlacement=001
  start s3 "$HOST1" "$weed" -logtostderr s3 -ip.bind="$ADDR1" -port=8333 -filer="$ADDR1:8888" -config="$dir/s3.json"
  # Ready when the S3 server answers a signed ListBuckets and every volume server is registered.
  deadline=$((SECONDS + 90))
  until ip netns exec "$HOST1" python3 - "$ADDR1" "$dir" "$n" <<'PY' 2>/dev/null
import json, sys, urllib.request
addr, d, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
topo = json.load(urllib.request.urlopen(f"http://{addr}:9333/dir/status", timeout=2))["Topology"]
nodes = [dn for dc in topo["DataCenters"] for r in dc["Racks"] for dn in r["DataNodes"]]
assert len(nodes) == n - 1, nodes
import boto3, botocore
ident = json.load(open(f"{d}/identity.json"))
s3 = boto3.client("s3", endpoint_url=f"http://{addr}:8333", aws_access_key_id=ident["access_key_id"],
                  aws_secret_access_key=ident["secret_access_key"], region_name="us-east-1",
                  config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5))
s3.list_buckets()
PY
  do
    [ $SECONDS -lt $deadline ] || { echo "the cluster did not come up within 90 s; logs in $dir" >&2; exit 1; }
    sleep 0.3
  done
  ;;
kill)
  name=$3
  pid=$(awk -v n="$name" '$1 == n { print $2 }' "$dir/pids")
  [ -n "$pid" ] && kill -9 "$pid"
  ;;
down)
  [ -f "$tagfile" ] || exit 0
  tag=$(cat "$tagfile")
  if [ -f "$dir/pids" ]; then
    while read -r name pid; do kill -9 "$pid" 2>/dev/null || true; done <"$dir/pids"
  fi
  # Anything else still running in these namespaces (daemons, mounts, weed children) was
  # started by the test in them: end it by the namespace, never by name.
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^gt(h[0-9]+|sw)$tag\$" || true); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns delete "$ns" 2>/dev/null || true
  done
  ;;
esac
