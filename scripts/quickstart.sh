#!/usr/bin/env bash
# quickstart.sh — the main job on a fresh Debian 12 machine, as root: install everything, build
# gluster-rs, create a local GlusterFS replica-3 volume on three brick directories of this host,
# and use it through gluster-rs (the CLI, and a kernel mount with `mount -t gluster-rs`).
#
# Usage: sudo scripts/quickstart.sh            (VOLUME=demo MOUNT=/mnt/gluster-rs-demo by default)
#        sudo scripts/quickstart.sh --down     (unmount and delete the demo volume)
set -euo pipefail
cd "$(dirname "$0")/.."
VOLUME=${VOLUME:-demo}
MOUNT=${MOUNT:-/mnt/gluster-rs-demo}

if [ "${1:-}" = "--down" ]; then
    mountpoint -q "$MOUNT" && umount "$MOUNT"
    scripts/dev-cluster down "$VOLUME"
    exit 0
fi

bash scripts/install.sh
# shellcheck disable=SC1091
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
cargo build --release --workspace --bins
install -m 0755 target/release/gluster-rs /usr/local/bin/gluster-rs
bash scripts/install-mount-helper.sh --no-build

HOST=$(hostname)
scripts/dev-cluster up "$VOLUME" 1x3
URL="gluster://$HOST/$VOLUME"

echo "== through the gluster-rs CLI (no mount): $URL"
gluster-rs mkdir -p "$URL/hello"
date > /tmp/gluster-rs-quickstart.txt
gluster-rs put /tmp/gluster-rs-quickstart.txt "$URL/hello/date.txt"
gluster-rs ls -l "$URL/hello"
gluster-rs cat "$URL/hello/date.txt"

echo "== through the kernel: mount -t gluster-rs $HOST:/$VOLUME $MOUNT"
mkdir -p "$MOUNT"
mountpoint -q "$MOUNT" || mount -t gluster-rs "$HOST:/$VOLUME" "$MOUNT"
grep " $MOUNT " /proc/mounts
cp /tmp/gluster-rs-quickstart.txt "$MOUNT/hello/copy.txt"
ls -l "$MOUNT/hello"
echo "== the three replicas on the bricks:"
for b in $(scripts/dev-cluster bricks "$VOLUME"); do
    printf '%s: ' "$b"; md5sum < "$b/hello/copy.txt"
done
gluster volume heal "$VOLUME" info | grep -E "^(Brick|Number of entries)"
echo
echo "Volume $VOLUME (replica 3) is mounted at $MOUNT through gluster-rs."
echo "Undo with: sudo scripts/quickstart.sh --down"
