#!/usr/bin/env bash
# compare-c-client.sh — gluster-rs's FUSE client against the GlusterFS C client, on one replica-3
# volume whose three bricks live on a tmpfs (so the network stack and the clients are measured,
# not disks).
#
#   benches/compare-c-client.sh [--c-only] [--quick] [--rounds N] [--results DIR]
#
# Steps: create+start the volume (scripts/dev-cluster up NAME 1x3 --tmpfs SIZE, or the gluster CLI
# when that script is absent); mount it with the C client (mount -t glusterfs) and with gluster-rs
# (mount -t gluster-rs, needs /sbin/mount.gluster-rs); run shared/bench/compare.py C RS and
# `gluster-rs bench --json` on both mounts; print the figures and the ratios. The volume, its tmpfs
# and both mounts are removed on exit, also on failure or Ctrl-C.
#
# --c-only   measure the C client alone (the baseline; no gluster-rs mount needed)
# --quick    smaller workloads (workload.py --quick; bench with 128 MiB, 3 s, 500 files)
# --rounds N rounds of each tool, alternating mounts (default 2); medians are reported
# --results DIR  keep the JSON outputs there (default: a new /tmp/grsbench-results.XXXXXX)
#
# Environment: HOST (default: hostname; must resolve to 127.x), VOL (default grsbench<pid>),
# TMPFS_SIZE (default 4G), GLUSTER_RS (gluster-rs binary; default target/release/gluster-rs,
# built when missing), SHARED (default ../shared beside the repository), BENCH_ARGS (extra
# arguments for gluster-rs bench).
# Needs root, glusterd, the gluster CLI, mount.glusterfs, fio and python3.
set -euo pipefail

PROG=$(basename "$0")
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${SHARED:-$REPO/../shared}
HOST=${HOST:-$(hostname)}
VOL=${VOL:-grsbench$$}
TMPFS_SIZE=${TMPFS_SIZE:-4G}
WORK=/run/grsbench-$$
C_MNT=$WORK/c
RS_MNT=$WORK/rs
BRICK_ROOT=/srv/grsbench-$$ # only when scripts/dev-cluster is absent
C_ONLY=no
QUICK=no
ROUNDS=2
RESULTS=""

die() {
    echo "$PROG: error: $*" >&2
    exit 1
}
say() { echo "$PROG: $*" >&2; }

usage() {
    sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
    --c-only) C_ONLY=yes; shift ;;
    --quick) QUICK=yes; shift ;;
    --rounds) [ $# -ge 2 ] || usage; ROUNDS=$2; shift 2 ;;
    --results) [ $# -ge 2 ] || usage; RESULTS=$2; shift 2 ;;
    -h | --help) usage ;;
    *) usage ;;
    esac
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "--rounds wants a positive integer"

# ------------------------------------------------------------------ checks (before touching anything)
[ "$(id -u)" -eq 0 ] || die "must run as root (volumes and mounts)"
for t in gluster mount.glusterfs fio python3 mountpoint; do
    command -v "$t" >/dev/null 2>&1 || die "'$t' is not installed (Debian: glusterfs-server glusterfs-client fio python3)"
done
[ -f "$SHARED/bench/compare.py" ] && [ -f "$SHARED/bench/workload.py" ] ||
    die "shared/bench/compare.py and workload.py not found under $SHARED (set SHARED=...)"
getent hosts "$HOST" | grep -q '^127\.' || die "host name $HOST must resolve to a 127.x address"
if [ "$C_ONLY" = no ] && [ ! -x /sbin/mount.gluster-rs ]; then
    die "/sbin/mount.gluster-rs is missing, so 'mount -t gluster-rs' cannot work: install the gluster-rs mount helper first, or run '$PROG --c-only' for the C-client baseline alone"
fi

GLUSTER_RS=${GLUSTER_RS:-$REPO/target/release/gluster-rs}
if [ ! -x "$GLUSTER_RS" ]; then
    command -v cargo >/dev/null 2>&1 || die "$GLUSTER_RS is missing and cargo is not installed to build it"
    say "building gluster-rs (release) ..."
    (cd "$REPO" && cargo build --release --bin gluster-rs >&2) || die "building gluster-rs failed"
    GLUSTER_RS=$REPO/target/release/gluster-rs
fi

if [ -z "$RESULTS" ]; then
    RESULTS=$(mktemp -d /tmp/grsbench-results.XXXXXX)
else
    mkdir -p "$RESULTS"
fi

if [ "$QUICK" = yes ]; then
    WL_ARGS=(--quick)
    DEFAULT_BENCH=(--big-file-size 128M --random-seconds 3 --small-files 500 --small-file-size 4K)
else
    WL_ARGS=()
    DEFAULT_BENCH=(--big-file-size 512M --random-seconds 8 --small-files 3000 --small-file-size 4K)
fi
# shellcheck disable=SC2206 # word splitting of BENCH_ARGS is intended
EXTRA_BENCH=(${BENCH_ARGS:-})

# ------------------------------------------------------------------ cleanup, armed before any change
VOLUME_UP=no
USED_DEV_CLUSTER=no
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    cd /
    for m in "$RS_MNT" "$C_MNT"; do
        if mountpoint -q "$m" 2>/dev/null; then
            umount "$m" 2>/dev/null || { sleep 1; umount "$m" 2>/dev/null; } || umount -l "$m"
        fi
    done
    rmdir "$RS_MNT" "$C_MNT" "$WORK" 2>/dev/null
    if [ "$VOLUME_UP" = yes ]; then
        say "removing volume $VOL"
        if [ "$USED_DEV_CLUSTER" = yes ]; then
            "$REPO/scripts/dev-cluster" down "$VOL" >&2
        else
            timeout 60 gluster --mode=script volume stop "$VOL" force >/dev/null 2>&1
            timeout 60 gluster --mode=script volume delete "$VOL" >/dev/null 2>&1
            mountpoint -q "$BRICK_ROOT" && umount "$BRICK_ROOT"
            rm -rf --one-file-system "${BRICK_ROOT:?}"/b1 "$BRICK_ROOT"/b2 "$BRICK_ROOT"/b3 2>/dev/null
            rmdir "$BRICK_ROOT" 2>/dev/null
        fi
    fi
    [ "$rc" -eq 0 ] || say "failed (exit $rc); cleaned up"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ volume and mounts
pgrep -x glusterd >/dev/null || glusterd -p /run/glusterd.pid
for _ in $(seq 100); do timeout 10 gluster --mode=script peer status >/dev/null 2>&1 && break; sleep 0.2; done

VOLUME_UP=yes # from here on, cleanup removes whatever of the volume exists
if [ -x "$REPO/scripts/dev-cluster" ]; then
    USED_DEV_CLUSTER=yes
    "$REPO/scripts/dev-cluster" up "$VOL" 1x3 --tmpfs "$TMPFS_SIZE" >&2
else
    mkdir -p "$BRICK_ROOT"
    mount -t tmpfs -o "size=$TMPFS_SIZE" tmpfs "$BRICK_ROOT"
    mkdir -p "$BRICK_ROOT"/b1 "$BRICK_ROOT"/b2 "$BRICK_ROOT"/b3
    gluster --mode=script volume create "$VOL" replica 3 \
        "$HOST:$BRICK_ROOT/b1" "$HOST:$BRICK_ROOT/b2" "$HOST:$BRICK_ROOT/b3" force >/dev/null
    gluster --mode=script volume start "$VOL" >/dev/null
fi

mkdir -p "$C_MNT" "$RS_MNT"
mount -t glusterfs "$HOST:/$VOL" "$C_MNT"
mountpoint -q "$C_MNT" || die "C-client mount of $HOST:/$VOL on $C_MNT failed"
if [ "$C_ONLY" = no ]; then
    mount -t gluster-rs "$HOST:/$VOL" "$RS_MNT" || die "mount -t gluster-rs $HOST:/$VOL $RS_MNT failed"
    mountpoint -q "$RS_MNT" || die "gluster-rs mount of $HOST:/$VOL on $RS_MNT failed"
fi
if [ "$C_ONLY" = no ]; then
    say "volume $VOL (replica 3, tmpfs bricks): C client on $C_MNT, gluster-rs on $RS_MNT"
else
    say "volume $VOL (replica 3, tmpfs bricks): C client on $C_MNT"
fi

# ------------------------------------------------------------------ measurements
bench() { # MOUNT OUTFILE
    "$GLUSTER_RS" bench "$1" --json --no-progress "${DEFAULT_BENCH[@]}" "${EXTRA_BENCH[@]}" >"$2"
}

echo "== GlusterFS C client vs gluster-rs: volume $VOL (replica 3 on tmpfs), host $HOST, rounds $ROUNDS"
if [ "$C_ONLY" = no ]; then
    echo
    echo "== shared/bench/compare.py (fio + small files): A = C client, B = gluster-rs; A/B < 1 means gluster-rs is faster"
    python3 "$SHARED/bench/compare.py" "$C_MNT" "$RS_MNT" --rounds "$ROUNDS" "${WL_ARGS[@]}" | tee "$RESULTS/compare.txt"
else
    echo
    echo "== shared/bench/workload.py on the C client ($ROUNDS round(s))"
    for r in $(seq "$ROUNDS"); do
        python3 "$SHARED/bench/workload.py" "$C_MNT" --json "${WL_ARGS[@]}" | tail -n 1 >"$RESULTS/workload-c-$r.json"
    done
fi

for r in $(seq "$ROUNDS"); do
    say "gluster-rs bench round $r: C client"
    bench "$C_MNT" "$RESULTS/bench-c-$r.json"
    if [ "$C_ONLY" = no ]; then
        say "gluster-rs bench round $r: gluster-rs"
        bench "$RS_MNT" "$RESULTS/bench-rs-$r.json"
    fi
done

echo
python3 - "$RESULTS" "$C_ONLY" <<'EOF'
import glob, json, math, os, statistics, sys
results, c_only = sys.argv[1], sys.argv[2] == "yes"
def load(pattern):
    return [json.load(open(p)) for p in sorted(glob.glob(os.path.join(results, pattern)))]
def medians(docs, key=lambda d: d):
    out = {}
    for d in docs:
        for k, v in key(d).items():
            out.setdefault(k, []).append(v)
    return {k: statistics.median(v) for k, v in out.items()}
wl = medians(load("workload-c-*.json"))
if wl:
    print(f"{'workload.py (C client)':24s} {'median':>12s}")
    for k, v in wl.items():
        print(f"{k:24s} {v:12.1f}")
    print()
c = medians(load("bench-c-*.json"), lambda d: d["metrics"])
rs = medians(load("bench-rs-*.json"), lambda d: d["metrics"])
lat = {}
for d in load("bench-c-*.json"):
    for p in d["phases"]:
        lat.setdefault(p["phase"], []).append(p["latency"]["mean_us"])
if c_only:
    print(f"== gluster-rs bench on the C client (median of rounds)")
    print(f"{'metric':16s} {'C client':>12s} {'avg lat us':>12s}")
    for (k, v), (ph, l) in zip(c.items(), lat.items()):
        print(f"{k:16s} {v:12.1f} {statistics.median(l):12.1f}")
else:
    print(f"== gluster-rs bench (median of rounds): RS/C > 1 means gluster-rs is faster")
    print(f"{'metric':16s} {'C client':>12s} {'gluster-rs':>12s} {'RS/C':>8s}")
    logs = []
    for k, v in c.items():
        r = rs.get(k)
        if r is None:
            continue
        ratio = r / v if v else float("inf")
        if 0 < ratio < float("inf"):
            logs.append(math.log(ratio))
        print(f"{k:16s} {v:12.1f} {r:12.1f} {ratio:8.2f}")
    if logs:
        print(f"geomean RS/C {math.exp(sum(logs) / len(logs)):.2f}")
EOF
echo
echo "JSON outputs kept in $RESULTS"
