#!/usr/bin/env bash
# Throughput through a daemon on a SeaweedFS cluster vs the cluster's own S3 server, in the same
# run (issue 21: goal >= 0.85x), and PUT latency with one volume server down. The daemon's gateway
# serves HTTPS (as it must for other hosts); the cluster's S3 server plain HTTP, so the ratio
# includes TLS. Hosts are network
# namespaces made by Tests/Fixtures/netns-cluster.sh (root): host 1 runs the master, the filer and
# the S3 server, hosts 2-4 a volume server each (replication 001), the daemon runs on host 2 and
# the client (boto3, 8 threads) on host 4, so every byte crosses the bridge.
#
#   bench/cluster.sh [ROUNDS] [OBJECTS] [SIZE_MB]     (defaults 5 32 8)
#   LOCAL=1 bench/cluster.sh …   the daemon on the client's host (4), on its loopback, plain HTTP:
#                                a host-local front door in front of a remote cluster
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5} OBJECTS=${2:-32} SIZE_MB=${3:-8}
GT=${GT:-$PWD/.build/release/garagetytus}
[ -x "$GT" ] || GT=$PWD/.build/debug/garagetytus
[ -x "$GT" ] || { echo "build first: swift build -c release" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
FIX=Tests/Fixtures/netns-cluster.sh
DIR=$(mktemp -d /tmp/gt-clbench-XXXXXX)
export GARAGETYTUS_HOME=$DIR/home
trap '"$GT" stop >/dev/null 2>&1 || true; bash $FIX down "$DIR/cluster"; rm -rf "$DIR"' EXIT
bash $FIX up "$DIR/cluster" 4
. "$DIR/cluster/env"
on() { local h=HOST$1; shift; nsenter --net=/var/run/netns/${!h} "$@"; }
"$GT" bootstrap >/dev/null
CFG=$GARAGETYTUS_HOME/config/garagetytus.toml
# The gateway serves the other hosts over HTTPS: a throwaway CA and a certificate for host 2.
(cd "$DIR" && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 1 -subj '/CN=bench CA' 2>/dev/null &&
  openssl req -newkey rsa:2048 -nodes -keyout gw-key.pem -out gw.csr -subj "/CN=$ADDR2" 2>/dev/null &&
  printf 'subjectAltName=IP:%s\n' "$ADDR2" >ext.cnf &&
  openssl x509 -req -in gw.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out gw.pem -days 1 -extfile ext.cnf 2>/dev/null)
DHOST=2 DADDR=$ADDR2
[ -z "${LOCAL:-}" ] || { DHOST=4 DADDR=127.0.0.1; }
python3 - "$CFG" "$ADDR1" "$DADDR" "$DIR/cluster/identity.json" "$DIR" "$SECURITY" <<'PY'
import re, sys
cfg, a1, a2, ident, d, sec = sys.argv[1:]
t = open(cfg).read()
if a2 != "127.0.0.1":
    t = re.sub(r'^listen_address = .*$', f'listen_address = "{a2}"', t, flags=re.M)
    t = re.sub(r'^tls_cert = .*$', f'tls_cert = "{d}/gw.pem"', t, flags=re.M)
    t = re.sub(r'^tls_key = .*$', f'tls_key = "{d}/gw-key.pem"', t, flags=re.M)
t = re.sub(r'^kind = .*$', 'kind = "cluster"', t, flags=re.M)
t = re.sub(r'^masters = .*$', f'masters = ["{a1}:9333"]', t, flags=re.M)
t = re.sub(r'^filer = .*$', f'filer = "{a1}:8888"', t, flags=re.M)
t = re.sub(r'^s3_endpoint = .*$', f's3_endpoint = "http://{a1}:8333"', t, flags=re.M)
t = re.sub(r'^identity_file = .*$', f'identity_file = "{ident}"', t, flags=re.M)
t = re.sub(r'^security_file = .*$', f'security_file = "{sec}"', t, flags=re.M)  # the test cluster's filer signs
open(cfg, "w").write(t)
PY
on $DHOST "$GT" start >/dev/null
"$GT" bucket create clbench --ttl 24h --quota unlimited --confirm-yes-really >/dev/null
GRANT=$DIR/grant.json
(umask 077; "$GT" bucket grant clbench --to bench --perms read,write,list,delete --ttl 1h --json >"$GRANT")
GW=https://$ADDR2:$(sed -n 's/^gateway_port = //p' "$CFG")
[ -z "${LOCAL:-}" ] || GW=http://127.0.0.1:$(sed -n 's/^gateway_port = //p' "$CFG")
DPID=$("$GT" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
S3PID=$(awk '$1 == "s3" { print $2 }' "$DIR/cluster/pids")
mkdir -p bench/results
OUT=bench/results/cluster-$(date +%Y%m%d-%H%M%S).txt
# One process on host 4 runs every round: PUT then GET of OBJECTS x SIZE_MB with 8 threads, through
# the daemon (the grant) and straight to the cluster's S3 (its admin identity), interleaved.
on 4 python3 - "$GW" "http://$ADDR1:8333" "$GRANT" "$DIR/cluster/identity.json" "$ROUNDS" "$OBJECTS" "$SIZE_MB" "$DIR/cluster" "$DIR/ca.pem" "$DPID" "$S3PID" <<'PY' | tee "$OUT"
import json, os, statistics, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
import boto3
from botocore.config import Config
gw, direct, grant, ident, rounds, objects, size_mb, cdir, ca, dpid, s3pid = sys.argv[1:]
def cpu(pid):  # user + system seconds of a process (and its waited-for children)
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in f[11:15]) / os.sysconf("SC_CLK_TCK")
def machine():  # (busy, total) jiffies of all cores
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return sum(f) - f[3] - f[4], sum(f)
rounds, objects, size = int(rounds), int(objects), int(size_mb) << 20
g, i = json.load(open(grant)), json.load(open(ident))
cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, max_pool_connections=16)
clients = {
    "daemon": boto3.client("s3", endpoint_url=gw, aws_access_key_id=g["access_key"], aws_secret_access_key=g["secret_key"], region_name="us-east-1", config=cfg, verify=ca),
    "cluster": boto3.client("s3", endpoint_url=direct, aws_access_key_id=i["access_key_id"], aws_secret_access_key=i["secret_access_key"], region_name="us-east-1", config=cfg),
}
body = os.urandom(size)
def run(name, r, op):
    s3 = clients[name]
    def one(k):
        key = f"{name}/{r}/{k}"
        if op == "put": s3.put_object(Bucket="clbench", Key=key, Body=body)
        else: assert len(s3.get_object(Bucket="clbench", Key=key)["Body"].read()) == size
    t, c, m = time.monotonic(), (cpu(dpid), cpu(s3pid)), machine()
    with ThreadPoolExecutor(8) as ex: list(ex.map(one, range(objects)))
    gib, m2 = objects * size / 2**30, machine()
    cost[(name, op)].append(((cpu(dpid) - c[0]) / gib, (cpu(s3pid) - c[1]) / gib, (m2[0] - m[0]) / max(m2[1] - m[1], 1)))
    return objects * size / (time.monotonic() - t) / 2**20
ratios = {"put": [], "get": []}
cost = {(n, o): [] for n in ("daemon", "cluster") for o in ("put", "get")}
for r in range(rounds):
    line = [f"round {r + 1}:"]
    for op in ("put", "get"):
        mb = {name: run(name, r, op) for name in (["daemon", "cluster"] if r % 2 == 0 else ["cluster", "daemon"])}
        ratios[op].append(mb["daemon"] / mb["cluster"])
        line.append(f"{op} daemon {mb['daemon']:.0f} MiB/s cluster {mb['cluster']:.0f} MiB/s ({ratios[op][-1]:.2f}x)")
    print("  ".join(line), flush=True)
    # The round's objects go (the test cluster holds a few GiB: 3 x 100 volumes of 64 MiB, two copies; the watchdog counts free volume slots).
    for name in clients:
        keys = [{"Key": f"{name}/{r}/{k}"} for k in range(objects)]
        clients["cluster"].delete_objects(Bucket="clbench", Delete={"Objects": keys})
# PUT latency of 1 MiB objects through the daemon, all volume servers up, then one killed.
small = os.urandom(1 << 20)
errors = {}
def latencies(tag):
    out = []
    for k in range(40):
        t = time.monotonic()
        try:
            clients["daemon"].put_object(Bucket="clbench", Key=f"lat/{tag}/{k}", Body=small); out.append((time.monotonic() - t) * 1000)
        except Exception as e:
            out.append(float("inf"))
            errors.setdefault(tag, str(e)[:160])
    ok = sorted(x for x in out if x != float("inf"))
    return statistics.median(ok) if ok else float("nan"), ok[int(len(ok) * 0.9)] if ok else float("nan"), len(out) - len(ok)
up = latencies("up")
subprocess.run(["bash", "Tests/Fixtures/netns-cluster.sh", "kill", cdir, "volume3"], check=True)
down = latencies("down")
print(f"median ratio daemon/cluster: put {statistics.median(ratios['put']):.2f}x  get {statistics.median(ratios['get']):.2f}x  (goal >= 0.85x)")
for (name, op), xs in cost.items():
    print(f"CPU seconds per GiB, {op} via {name}: daemon {statistics.median(x[0] for x in xs):.2f}  cluster S3 server {statistics.median(x[1] for x in xs):.2f}"
          f"  (the machine's cores busy {statistics.median(x[2] for x in xs) * 100:.0f} %)")
print(f"1 MiB PUT through the daemon: all volume servers up p50 {up[0]:.0f} ms p90 {up[1]:.0f} ms ({up[2]} failed); "
      f"one down p50 {down[0]:.0f} ms p90 {down[1]:.0f} ms ({down[2]} failed of 40)")
for tag, e in errors.items(): print(f"first failure ({tag}): {e}")
PY
echo "results: $OUT"
