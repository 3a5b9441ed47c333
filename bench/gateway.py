"""The measurements of bench/gateway.sh (see there). Prints one JSON object."""
import json, os, socket, statistics, subprocess, threading, time, http.client, hashlib, urllib.parse
from collections import namedtuple
Credentials = namedtuple("Credentials", "access_key secret_key")

GT = os.environ["GT"]
SIZE_MB = int(os.environ["SIZE_MB"]); DURATION = float(os.environ["DURATION"])
GW = int(os.environ["GATEWAY_PORT"]); ENG = int(os.environ["ENGINE_PORT"])
# A sealed engine has no port on the host: its S3 is reached through this socket (ADR 0003).
ENG_SOCK = os.environ.get("ENGINE_SOCKET") or None

class UnixHTTPConnection(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); self.sock.connect(ENG_SOCK)

def connection(port):
    return UnixHTTPConnection("127.0.0.1", port) if port == ENG and ENG_SOCK else http.client.HTTPConnection("127.0.0.1", port)
ident = json.load(open(os.environ["IDENTITY"]))
ADMIN = Credentials(ident["access_key_id"], ident["secret_access_key"])
DAEMON_PID = int(open(os.environ["PIDFILE"]).read().strip())

def cli(*args):
    return subprocess.run([GT, *args], check=True, capture_output=True, text=True).stdout

def signed(method, port, path, creds, body_hash="UNSIGNED-PAYLOAD", query=""):
    """SigV4 headers for a path-style request (botocore would replace UNSIGNED-PAYLOAD over http)."""
    import datetime, hmac
    amz = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ"); day = amz[:8]
    host = f"127.0.0.1:{port}"
    canon_q = "&".join(sorted(f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
                              for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True)))
    hdrs = {"host": host, "x-amz-content-sha256": body_hash, "x-amz-date": amz}
    names = sorted(hdrs)
    creq = "\n".join([method, urllib.parse.quote(path, safe="/-_.~"), canon_q, "".join(f"{n}:{hdrs[n]}\n" for n in names), ";".join(names), body_hash])
    scope = f"{day}/us-east-1/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + creds.secret_key).encode()
    for m in (day, "us-east-1", "s3", "aws4_request"): k = hmac.new(k, m.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    return {"x-amz-content-sha256": body_hash, "x-amz-date": amz,
            "Authorization": f"AWS4-HMAC-SHA256 Credential={creds.access_key}/{scope}, SignedHeaders={';'.join(names)}, Signature={sig}"}

def curl_args(method, port, path, creds):
    h = signed(method, port, path, creds)
    out = ["--unix-socket", ENG_SOCK] if port == ENG and ENG_SOCK else []
    for k, v in h.items(): out += ["-H", f"{k}: {v}"]
    return out

def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"): return int(line.split()[1])
    return 0

def timed_curl(args, watch_pid):
    peak = [0]; stop = [False]
    def watch():
        while not stop[0]:
            peak[0] = max(peak[0], rss_kib(watch_pid)); time.sleep(0.05)
    t = threading.Thread(target=watch, daemon=True); t.start()
    t0 = time.time(); r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", *args], capture_output=True, text=True); dt = time.time() - t0
    stop[0] = True; t.join()
    if r.stdout != "200":  # once more, keeping the answer, to show why
        body = subprocess.run(["curl", "-sS", *args], capture_output=True).stdout[:300]
        raise SystemExit(f"curl {args[-1]} answered {r.stdout}: {r.stderr[:300]} {body}")
    return dt, peak[0] // 1024

res = {"size_mb": SIZE_MB, "duration_s": DURATION}
cli("bucket", "create", "bench", "--ttl", "24h", "--quota", "unlimited", "--confirm-yes-really")
grant = json.loads(cli("bucket", "grant", "bench", "--to", "bench", "--perms", "read,write,list,delete", "--ttl", "1h", "--json"))
G = Credentials(grant["access_key"], grant["secret_key"])

# 1. Throughput: single PUT and GET of SIZE_MB, engine then gateway, in ROUNDS interleaved rounds
# (default 6). The ratio is the median of the rounds' own ratios: on a shared 2-core machine one
# pair swings by ±20 %, and a round's two transfers see the same machine.
ROUNDS = int(os.environ.get("ROUNDS", "6"))
src = f"/dev/shm/gt-bench-{SIZE_MB}"
with open(src, "wb") as f:
    block = os.urandom(1 << 20)
    for _ in range(SIZE_MB): f.write(block)
tp = {"engine_put": [], "gateway_put": [], "engine_get": [], "gateway_get": []}; peak = 0
for _ in range(ROUNDS):
    for name, port, creds in (("engine", ENG, ADMIN), ("gateway", GW, G)):
        dt, p = timed_curl(["-T", src, *curl_args("PUT", port, "/bench/big", creds), f"http://127.0.0.1:{port}/bench/big"], DAEMON_PID)
        tp[name + "_put"].append(SIZE_MB / dt); peak = max(peak, p)
        dt, p = timed_curl([*curl_args("GET", port, "/bench/big", creds), f"http://127.0.0.1:{port}/bench/big"], DAEMON_PID)
        tp[name + "_get"].append(SIZE_MB / dt); peak = max(peak, p)
os.unlink(src)
for k in tp: res[k + "_mib_s"] = round(statistics.median(tp[k]), 1)
for op in ("put", "get"):
    rounds = [g / e for g, e in zip(tp["gateway_" + op], tp["engine_" + op])]
    res[op + "_ratio"] = round(statistics.median(rounds), 3)
    res[op + "_ratios"] = [round(r, 3) for r in rounds]
res["daemon_peak_rss_mib_while_streaming"] = peak

# 2. 4 KiB GET latency over one keep-alive connection each.
def latency(port, creds, n=1000):
    body = os.urandom(4096)
    c = connection(port)
    h = signed("PUT", port, "/bench/small", creds, hashlib.sha256(body).hexdigest())
    c.request("PUT", "/bench/small", body=body, headers=h); r = c.getresponse(); r.read(); assert r.status == 200, r.status
    out = []
    for _ in range(n):
        h = signed("GET", port, "/bench/small", creds)
        t0 = time.perf_counter(); c.request("GET", "/bench/small", headers=h); r = c.getresponse(); r.read(); out.append(time.perf_counter() - t0)
        assert r.status == 200
    out.sort()
    return out[len(out) // 2] * 1000, out[int(len(out) * 0.99)] * 1000
for rnd in range(2):
    e50, e99 = latency(ENG, ADMIN); g50, g99 = latency(GW, G)
res.update({"engine_get4k_p50_ms": round(e50, 3), "gateway_get4k_p50_ms": round(g50, 3), "added_p50_ms": round(g50 - e50, 3),
            "engine_get4k_p99_ms": round(e99, 3), "gateway_get4k_p99_ms": round(g99, 3)})

# 3. 32 concurrent clients for DURATION seconds.
errors = []; ops = [0]; lock = threading.Lock(); deadline = time.time() + DURATION
def client(i):
    c = http.client.HTTPConnection("127.0.0.1", GW, timeout=30); body = os.urandom(4096); n = 0
    while time.time() < deadline:
        key = f"/bench/c{i}/{n % 20}"
        try:
            for method, path, q, b in (("PUT", key, "", body), ("GET", key, "", None), ("GET", "/bench", f"list-type=2&prefix=c{i}/", None)):
                h = signed(method, GW, path, G, hashlib.sha256(b).hexdigest() if b else "UNSIGNED-PAYLOAD", q)
                c.request(method, path + (f"?{q}" if q else ""), body=b, headers=h); r = c.getresponse(); r.read()
                if r.status != 200:
                    with lock: errors.append(f"{method} {path} {r.status}")
                with lock: ops[0] += 1
        except Exception as e:
            with lock: errors.append(repr(e))
            c = http.client.HTTPConnection("127.0.0.1", GW, timeout=30)
        n += 1
threads = [threading.Thread(target=client, args=(i,)) for i in range(32)]
t0 = time.time(); [t.start() for t in threads]; [t.join() for t in threads]
res.update({"concurrent_clients": 32, "concurrent_ops": ops[0], "concurrent_ops_per_s": round(ops[0] / (time.time() - t0), 1),
            "concurrent_errors": len(errors), "concurrent_error_samples": errors[:5]})

# 4. Grant mint p50 (the CLI as an operator runs it) and revoke / deny-all until the first 403.
mints = []
for i in range(15):
    t0 = time.perf_counter(); g = json.loads(cli("bucket", "grant", "bench", "--to", f"m{i}", "--perms", "read", "--ttl", "30m", "--json"))
    mints.append((time.perf_counter() - t0) * 1000)
    cli("bucket", "revoke", g["grant_id"])
res["grant_mint_p50_ms"] = round(statistics.median(mints), 1)

def until_refused(action, creds):
    h = lambda: signed("GET", GW, "/bench/small", creds)
    c = http.client.HTTPConnection("127.0.0.1", GW)
    c.request("GET", "/bench/small", headers=h()); r = c.getresponse(); r.read(); assert r.status == 200
    t0 = time.perf_counter(); action()
    while True:
        c.request("GET", "/bench/small", headers=h()); r = c.getresponse(); r.read()
        if r.status == 403: return (time.perf_counter() - t0) * 1000
        if time.perf_counter() - t0 > 5: return None
victim = json.loads(cli("bucket", "grant", "bench", "--to", "victim", "--perms", "read", "--ttl", "30m", "--json"))
res["revoke_effective_ms"] = round(until_refused(lambda: cli("bucket", "revoke", victim["grant_id"]), Credentials(victim["access_key"], victim["secret_key"])), 1)
res["deny_all_effective_ms"] = round(until_refused(lambda: cli("bucket", "deny-all", "bench", "--ttl", "30m"), G), 1)
cli("bucket", "allow", "bench")
print(json.dumps(res, indent=1))
