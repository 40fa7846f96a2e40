#!/usr/bin/env bash
# install.sh — prepare a Debian 12 (bookworm) machine for building and testing gluster-rs.
#
# Usage: sudo scripts/install.sh
#
# Idempotent; safe to run again. It:
#   1. installs the Debian packages below that are missing (apt-get update first);
#   2. installs a Rust toolchain with rustup when `cargo` is missing or older than 1.80
#      (for $SUDO_USER when run through sudo, else for root);
#   3. makes the host name resolve to a 127.x address (appends "127.0.1.1 NAME" to /etc/hosts
#      when the name does not resolve at all);
#   4. enables `user_allow_other` in /etc/fuse.conf and makes sure /dev/fuse exists;
#   5. starts glusterd (systemd when it is PID 1, else directly) and waits until
#      `gluster peer status` answers.
# At the end it prints what it changed.
set -euo pipefail

PROG=$(basename "$0")
MIN_RUST_MINOR=80 # rust-version = "1.80" in the workspace Cargo.toml
GLUSTERD_WAIT=${GLUSTERD_WAIT:-60}

# Packages, with why gluster-rs needs them.
PACKAGES=(
    glusterfs-server        # glusterd + bricks for the integration tests
    glusterfs-client        # the C client (mount.glusterfs) to compare against
    fuse3                   # /dev/fuse handling and fusermount3 for the FUSE client
    attr                    # getfattr/setfattr to inspect AFR/DHT xattrs on bricks
    fio                     # benchmarks
    xfsprogs                # mkfs.xfs for brick file systems (heketi executor)
    lvm2                    # pvcreate/vgcreate/lvcreate (heketi executor)
    thin-provisioning-tools # thin pools for heketi bricks
    python3                 # benchmark workload scripts
    curl                    # rustup installer
    ca-certificates         # https for curl
    build-essential         # cc/linker for cargo
    pkg-config              # build scripts that look up system libraries
    systemd                 # systemd-analyze to verify the unit files
    procps                  # pgrep
    util-linux              # mount, mountpoint, wipefs, runuser
    tshark                  # decoding the reference packet captures
    git
)

CHANGES=()
changed() {
    CHANGES+=("$*")
    echo "$PROG: $*"
}
note() { echo "$PROG: $*"; }
die() {
    echo "$PROG: error: $*" >&2
    exit 1
}

[ "$(id -u)" -eq 0 ] || die "must run as root (try: sudo $0)"

if [ -r /etc/os-release ]; then
    # shellcheck disable=SC1091
    . /etc/os-release
    if [ "${ID:-}" != debian ] || [ "${VERSION_ID:-}" != 12 ]; then
        note "warning: this script targets Debian 12; found ${PRETTY_NAME:-unknown}. Continuing."
    fi
fi
command -v apt-get >/dev/null 2>&1 || die "apt-get not found; this script needs Debian"

# ------------------------------------------------------------------ 1. packages

pkg_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()
for p in "${PACKAGES[@]}"; do
    pkg_installed "$p" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    note "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
    for p in "${missing[@]}"; do
        pkg_installed "$p" || die "package $p did not install"
    done
    changed "installed packages: ${missing[*]}"
else
    note "all ${#PACKAGES[@]} packages already installed; skipping apt-get"
fi

# ------------------------------------------------------------------ 2. Rust toolchain

# Whose toolchain: the user who ran sudo, else root.
RUST_USER=root
if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ] && id "$SUDO_USER" >/dev/null 2>&1; then
    RUST_USER=$SUDO_USER
fi
RUST_HOME=$(getent passwd "$RUST_USER" | cut -d: -f6)
[ -n "$RUST_HOME" ] || die "cannot find the home directory of $RUST_USER"
CARGO_BIN=${CARGO_HOME:-$RUST_HOME/.cargo}/bin

# Run a command as RUST_USER with rustup's bin dir first on PATH.
as_rust_user() {
    if [ "$RUST_USER" = root ]; then
        env HOME="$RUST_HOME" PATH="$CARGO_BIN:$PATH" "$@"
    else
        runuser -u "$RUST_USER" -- env HOME="$RUST_HOME" PATH="$CARGO_BIN:$PATH" "$@"
    fi
}

cargo_version() { as_rust_user cargo --version 2>/dev/null | awk '{print $2}'; }

cargo_ok() {
    local v
    v=$(cargo_version) || return 1
    [[ "$v" =~ ^([0-9]+)\.([0-9]+) ]] || return 1
    local major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]}
    [ "$major" -gt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -ge "$MIN_RUST_MINOR" ]; }
}

if cargo_ok; then
    note "cargo $(cargo_version) for $RUST_USER is recent enough"
else
    old=$(cargo_version || true)
    note "cargo ${old:-missing} for $RUST_USER; need >= 1.$MIN_RUST_MINOR"
    if as_rust_user sh -c 'command -v rustup' >/dev/null 2>&1; then
        as_rust_user rustup toolchain install stable --profile minimal -c clippy -c rustfmt
        as_rust_user rustup default stable
    else
        tmp=$(mktemp -d)
        trap 'rm -rf "$tmp"' EXIT
        curl --proto '=https' --tlsv1.2 -sSf --retry 3 --max-time 120 \
            -o "$tmp/rustup-init.sh" https://sh.rustup.rs ||
            die "downloading the rustup installer failed"
        chmod 0755 "$tmp" "$tmp/rustup-init.sh"
        as_rust_user sh "$tmp/rustup-init.sh" -y --profile minimal \
            --default-toolchain stable -c clippy -c rustfmt
    fi
    cargo_ok || die "cargo is still missing or too old after installing rustup (found: $(cargo_version || echo none))"
    changed "installed Rust toolchain for $RUST_USER: cargo $(cargo_version) in $CARGO_BIN"
    note "open a new shell or run '. \"${CARGO_HOME:-$RUST_HOME/.cargo}/env\"' to get cargo on PATH"
fi

# ------------------------------------------------------------------ 3. host name -> 127.x

HOST=$(hostname)
resolve() { getent hosts "$1" | awk '{print $1; exit}'; }
addr=$(resolve "$HOST" || true)
case "$addr" in
127.*)
    note "host name $HOST resolves to $addr"
    ;;
"")
    printf '127.0.1.1\t%s\n' "$HOST" >>/etc/hosts
    addr=$(resolve "$HOST" || true)
    case "$addr" in
    127.*) changed "added '127.0.1.1 $HOST' to /etc/hosts" ;;
    *) die "added '127.0.1.1 $HOST' to /etc/hosts but $HOST still resolves to '${addr:-nothing}'; check /etc/nsswitch.conf" ;;
    esac
    ;;
*)
    host_re=${HOST//./\\.}
    if grep -Eq "^[[:space:]]*[^#[:space:]]+[[:space:]]+([^#]*[[:space:]])?$host_re([[:space:]]|\$)" /etc/hosts; then
        die "/etc/hosts maps $HOST to $addr; gluster-rs tests use the host name as brick host and
need it on loopback. Edit that line to map it to a 127.x address, e.g. '127.0.1.1 $HOST'"
    fi
    # Resolved through DNS or similar: a files entry takes precedence.
    printf '127.0.1.1\t%s\n' "$HOST" >>/etc/hosts
    addr=$(resolve "$HOST" || true)
    case "$addr" in
    127.*) changed "added '127.0.1.1 $HOST' to /etc/hosts (it resolved to a non-loopback address)" ;;
    *) die "$HOST still resolves to $addr after adding it to /etc/hosts; check /etc/nsswitch.conf" ;;
    esac
    ;;
esac

# ------------------------------------------------------------------ 4. FUSE

FUSE_CONF=/etc/fuse.conf
if [ -f "$FUSE_CONF" ] && grep -Eq '^[[:space:]]*user_allow_other[[:space:]]*$' "$FUSE_CONF"; then
    note "user_allow_other already enabled in $FUSE_CONF"
elif [ -f "$FUSE_CONF" ] && grep -Eq '^[[:space:]]*#[[:space:]]*user_allow_other[[:space:]]*$' "$FUSE_CONF"; then
    sed -i -E 's/^[[:space:]]*#[[:space:]]*user_allow_other[[:space:]]*$/user_allow_other/' "$FUSE_CONF"
    changed "uncommented user_allow_other in $FUSE_CONF"
else
    echo user_allow_other >>"$FUSE_CONF"
    changed "added user_allow_other to $FUSE_CONF"
fi

if [ ! -e /dev/fuse ]; then
    if modprobe fuse 2>/dev/null && [ -e /dev/fuse ]; then
        changed "loaded the fuse kernel module"
    else
        note "warning: /dev/fuse is missing and 'modprobe fuse' did not create it; FUSE mounts will fail"
    fi
fi

# ------------------------------------------------------------------ 5. glusterd

glusterd_answers() { timeout 10 gluster --mode=script peer status >/dev/null 2>&1; }

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    if ! systemctl is-enabled --quiet glusterd 2>/dev/null; then
        systemctl enable glusterd
        changed "enabled glusterd.service"
    fi
    if ! systemctl is-active --quiet glusterd; then
        systemctl start glusterd
        changed "started glusterd.service"
    fi
elif ! pgrep -x glusterd >/dev/null 2>&1; then
    glusterd -p /run/glusterd.pid
    changed "started glusterd (no systemd; pid file /run/glusterd.pid)"
fi

deadline=$((SECONDS + GLUSTERD_WAIT))
until glusterd_answers; do
    [ $SECONDS -lt $deadline ] || die "glusterd did not answer 'gluster peer status' within ${GLUSTERD_WAIT}s"
    sleep 1
done
note "glusterd answers ($(gluster --version | head -n1))"

# ------------------------------------------------------------------ summary

echo
if [ ${#CHANGES[@]} -eq 0 ]; then
    echo "$PROG: nothing to do; the machine was already set up"
else
    echo "$PROG: done. Changes made:"
    printf '  - %s\n' "${CHANGES[@]}"
fi
