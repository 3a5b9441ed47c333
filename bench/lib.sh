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
