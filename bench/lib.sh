# Sourced by the bench scripts (after GT is set): a throwaway daemon home whose every port is a
# free one, removed (daemon stopped) when the script exits.
gt_bench_home() {  # $1: a name for the temp directory
  export GARAGETYTUS_HOME=$(mktemp -d "/tmp/gt-$1-XXXXXX")
  trap '"$GT" stop >/dev/null 2>&1 || true; rm -rf "$GARAGETYTUS_HOME"' EXIT
  "$GT" bootstrap >/dev/null
  local cfg=$GARAGETYTUS_HOME/config/garagetytus.toml
  local keys=($(sed -n 's/^\([a-z_]*_port\) = .*/\1/p' "$cfg"))
  local ports=($(python3 - "${#keys[@]}" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
))
  local i
  for i in "${!keys[@]}"; do sed -i "s/^${keys[$i]} = .*/${keys[$i]} = ${ports[$i]}/" "$cfg"; done
}

# The port the config gives KEY (gt_port s3_port).
gt_port() { sed -n "s/^$1 = //p" "$GARAGETYTUS_HOME/config/garagetytus.toml"; }

# The median of the numbers on stdin, one a line.
gt_median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# The engine's own access key and secret (the daemon's identity at its S3 port), as "AK SK".
gt_engine_keys() {
  python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print(d['access_key_id'], d['secret_access_key'])" \
    "$GARAGETYTUS_HOME/config/engine-identity.json"
}

# A grant on BUCKET with every permission for an hour, written to $GRANT (0600), and its keys as
# s3fs's password file $GARAGETYTUS_HOME/s3fs.passwd. GW is the daemon's front door.
gt_bench_grant() {  # $1: bucket
  GW=http://127.0.0.1:$(gt_port gateway_port)
  GRANT=$GARAGETYTUS_HOME/grant.json
  (umask 077; "$GT" bucket grant "$1" --to bench --perms read,write,list,delete --ttl 1h --json >"$GRANT")
  python3 -c "import json, sys; g = json.load(open(sys.argv[1])); print(g['access_key'] + ':' + g['secret_key'])" "$GRANT" >"$GARAGETYTUS_HOME/s3fs.passwd"
  chmod 600 "$GARAGETYTUS_HOME/s3fs.passwd"
}

# s3fs (with its defaults) mounting BUCKET on DIR through $GW with that password file; returns
# once DIR is a mountpoint (20 s at most).
gt_mount_s3fs() {  # $1: bucket, $2: directory
  "$S3FS" "$1" "$2" -o url="$GW" -o use_path_request_style -o endpoint=us-east-1 \
    -o passwd_file="$GARAGETYTUS_HOME/s3fs.passwd" -o sigv4 -o dbglevel=warn
  local deadline=$((SECONDS + 20))
  until mountpoint -q "$2"; do [ $SECONDS -lt $deadline ] || { echo "s3fs did not mount" >&2; exit 1; }; sleep 0.1; done
}

# Its arguments joined with commas (a list for bench/plot.py).
gt_csv() { local IFS=,; echo "$*"; }

# Charts of a script's rounds next to its results (bench/plot.py OUT TITLE --series/--ratio …):
# OUT.json and OUT.png, named at the end of the results text file $OUT_TXT. Quiet on stdout (the
# last line a script prints is its summary); matplotlib is installed from PyPI when missing, and
# without it there is no chart, only a line saying so.
gt_plot() {
  python3 -c "import matplotlib" 2>/dev/null || pip install --quiet matplotlib >/dev/null 2>&1 || true
  if python3 bench/plot.py "$@" >/dev/null 2>"$1.err"; then
    rm -f "$1.err"
    echo "chart: $1.png (numbers: $1.json)" >>"$OUT_TXT"
  else
    echo "no chart: $(tail -1 "$1.err")" >>"$OUT_TXT"
  fi
}
