#!/usr/bin/env bash
# install-mount-helper.sh — install gluster-rs's mount helper so `mount -t gluster-rs` works,
# and optionally let it answer for `mount -t glusterfs` too.
#
# Usage:
#   scripts/install-mount-helper.sh [--sbindir DIR] [--binary PATH] [--no-build]
#   scripts/install-mount-helper.sh --replace-glusterfs [--sbindir DIR] [--binary PATH] [--no-build]
#   scripts/install-mount-helper.sh --restore [--sbindir DIR]
#
#   (default)            install the helper as SBINDIR/mount.gluster-rs (SBINDIR defaults to /sbin,
#                        where mount(8) looks for helpers). The binary is target/release/
#                        mount-gluster-rs (CARGO_TARGET_DIR is honoured); it is built with
#                        `cargo build --release -p mount-gluster-rs` if missing.
#   --replace-glusterfs  also make SBINDIR/mount.glusterfs a symlink to mount.gluster-rs, so fstab
#                        lines and kubelets that say `glusterfs` use gluster-rs. The original
#                        mount.glusterfs is kept as mount.glusterfs.orig (moved once; running this
#                        again changes nothing; if a package update put a new original in place,
#                        that one becomes the new .orig).
#   --restore            undo --replace-glusterfs: remove the symlink and put mount.glusterfs.orig
#                        back. mount.gluster-rs itself stays installed.
#   --binary PATH        install this file instead of target/release/mount-gluster-rs.
#   --no-build           fail instead of building when the binary is missing.
#
# Needs write access to SBINDIR (root for /sbin).
set -euo pipefail

PROG=$(basename "$0")
die() {
    echo "$PROG: error: $*" >&2
    exit 1
}
info() { echo "$PROG: $*" >&2; }

REPO=$(cd "$(dirname "$0")/.." && pwd)
SBINDIR=/sbin
BINARY=""
BUILD=1
MODE=install

while [ $# -gt 0 ]; do
    case "$1" in
        --sbindir) [ $# -ge 2 ] || die "--sbindir needs a directory"; SBINDIR=$2; shift 2 ;;
        --sbindir=*) SBINDIR=${1#*=}; shift ;;
        --binary) [ $# -ge 2 ] || die "--binary needs a path"; BINARY=$2; shift 2 ;;
        --binary=*) BINARY=${1#*=}; shift ;;
        --no-build) BUILD=0; shift ;;
        --replace-glusterfs) MODE=replace; shift ;;
        --restore) MODE=restore; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

OURS=mount.gluster-rs
HELPER="$SBINDIR/$OURS"
GLUSTERFS="$SBINDIR/mount.glusterfs"
ORIG="$SBINDIR/mount.glusterfs.orig"

# True if $1 is a symlink that resolves to our helper.
is_our_link() {
    [ -L "$1" ] || return 1
    local target
    target=$(readlink "$1")
    [ "$target" = "$OURS" ] || [ "$target" = "$HELPER" ] && return 0
    [ -e "$HELPER" ] && [ "$(readlink -f "$1")" = "$(readlink -f "$HELPER")" ]
}

install_helper() {
    if [ -z "$BINARY" ]; then
        BINARY="${CARGO_TARGET_DIR:-$REPO/target}/release/mount-gluster-rs"
        if [ ! -x "$BINARY" ]; then
            [ "$BUILD" = 1 ] || die "$BINARY not found (build it, or drop --no-build)"
            info "building $BINARY"
            (cd "$REPO" && cargo build --release -p mount-gluster-rs) || die "cargo build failed"
        fi
    fi
    [ -f "$BINARY" ] && [ -x "$BINARY" ] || die "$BINARY is not an executable file"
    [ -d "$SBINDIR" ] || die "$SBINDIR is not a directory"
    # Install under a temporary name and rename: a mount running the old helper is not disturbed.
    local tmp="$SBINDIR/.$OURS.new.$$"
    install -m 0755 "$BINARY" "$tmp" || die "cannot write to $SBINDIR"
    mv -f "$tmp" "$HELPER"
    info "installed $HELPER"
}

replace_glusterfs() {
    if is_our_link "$GLUSTERFS"; then
        info "$GLUSTERFS already points to $OURS"
        return
    fi
    if [ -e "$GLUSTERFS" ] || [ -L "$GLUSTERFS" ]; then
        if [ -e "$ORIG" ] || [ -L "$ORIG" ]; then
            info "warning: $ORIG exists and $GLUSTERFS is not ours (a package update?);" \
                "keeping the newer one as $ORIG"
        fi
        mv -f "$GLUSTERFS" "$ORIG"
        info "kept the original as $ORIG"
    else
        info "no $GLUSTERFS to keep (GlusterFS's client is not installed)"
    fi
    ln -s "$OURS" "$GLUSTERFS"
    info "$GLUSTERFS -> $OURS"
}

restore_glusterfs() {
    if is_our_link "$GLUSTERFS"; then
        rm -f "$GLUSTERFS"
        if [ -e "$ORIG" ] || [ -L "$ORIG" ]; then
            mv -f "$ORIG" "$GLUSTERFS"
            info "restored $GLUSTERFS"
        else
            info "removed the $GLUSTERFS symlink (there was no original to restore)"
        fi
    elif [ -e "$GLUSTERFS" ] || [ -L "$GLUSTERFS" ]; then
        info "$GLUSTERFS is not gluster-rs's; leaving it alone"
        if [ -e "$ORIG" ]; then
            info "warning: $ORIG is left in place; remove it by hand if it is stale"
        fi
    elif [ -e "$ORIG" ] || [ -L "$ORIG" ]; then
        mv -f "$ORIG" "$GLUSTERFS"
        info "restored $GLUSTERFS"
    else
        info "nothing to restore"
    fi
}

case "$MODE" in
    install) install_helper ;;
    replace) install_helper; replace_glusterfs ;;
    restore) restore_glusterfs ;;
esac
