#!/usr/bin/env bash
# Container entrypoint (the day-2 seed's recipe): mount a workspace, then exec the workload.
#
#   ARTIFACTS_WORKSPACE=cases [ARTIFACTS_MOUNTPOINT=/mnt/work] scripts/entrypoint.sh your-real-entrypoint args...
#
# Credentials: the workspace's cache (~/.config/garagetytus/workspaces/), or on a fresh host
# ARTIFACTS_S3_ENDPOINT, ARTIFACTS_S3_BUCKET (and _REGION, _PREFIX) with ARTIFACTS_S3_ACCESS_KEY_ID
# and ARTIFACTS_S3_SECRET_ACCESS_KEY. `artifacts mount` returns once the directory is ready, so
# no polling is needed; a mountpoint left stale by a previous boot is cleaned up by the mount.
# If the mount fails this exits non-zero with the mount's reason on stderr.
set -euo pipefail
workspace=${ARTIFACTS_WORKSPACE:?set ARTIFACTS_WORKSPACE to the workspace to mount}
mountpoint=${ARTIFACTS_MOUNTPOINT:-/mnt/work}
artifacts=${ARTIFACTS_BIN:-artifacts}
[ $# -gt 0 ] || { echo "entrypoint: give the workload to run after the mount, e.g. $0 bash" >&2; exit 64; }

# A mountpoint left stale by a killed mount answers "Transport endpoint is not connected":
# mkdir fails on it, and `artifacts mount` cleans it up and mounts again.
mkdir -p "$mountpoint" 2>/dev/null || [ -e "$mountpoint" ] || grep -q " $mountpoint " /proc/mounts || mkdir -p "$mountpoint"
"$artifacts" mount "$workspace" "$mountpoint"
exec "$@"
