#!/bin/sh
# deps.sh - install what building and testing ctrkit need, when it is missing.
#
# Usage: scripts/deps.sh [--check]
#   --check   only report what is missing; exit 1 if anything is
#
# On Debian/Ubuntu it installs the missing packages with apt-get (as root). Elsewhere it
# lists what is missing and exits 1. The Rust toolchain (cargo, clippy, rustfmt) comes from
# rustup and is checked, not installed; the components clippy and rustfmt and the musl target
# the build uses (.cargo/config.toml) are added with rustup when missing.
set -eu

check_only=0
[ "${1-}" = "--check" ] && check_only=1

# command-or-file : Debian package
NEEDS='
bats:bats
/bin/busybox:busybox-static
ip:iproute2
nft:nftables
jq:jq
runc:runc
crun:crun
cgget:cgroup-tools
umoci:umoci
skopeo:skopeo
docker-registry:docker-registry
curl:curl
htpasswd:apache2-utils
openssl:openssl
shellcheck:shellcheck
newuidmap:uidmap
pasta:passt
/usr/lib/cni/bridge:containernetworking-plugins
podman:podman
dockerd:docker.io
containerd:containerd
qemu-system-x86_64:qemu-system-x86
cpio:cpio
depmod:kmod
groff:groff-base
man:man-db
nsenter:util-linux
unshare:util-linux
hyperfine:hyperfine
tmux:tmux
tc:iproute2
python3:python3
gzip:gzip
zstd:zstd
setcap:libcap2-bin
pkg-config:pkg-config
pgrep:procps
dash:dash
musl-gcc:musl-tools
'

have() {
    case $1 in
        /*) [ -e "$1" ] ;;
        *) command -v "$1" >/dev/null 2>&1 ;;
    esac
}

missing=''
for pair in $NEEDS; do
    what=${pair%%:*}
    pkg=${pair#*:}
    if ! have "$what"; then
        case " $missing " in
            *" $pkg "*) ;;
            *) missing="$missing $pkg" ;;
        esac
    fi
done
# busybox must be the static build (it is copied into test root filesystems)
if [ -x /bin/busybox ] && ! LC_ALL=C ldd /bin/busybox 2>&1 | grep -q 'not a dynamic'; then
    case " $missing " in *" busybox-static "*) ;; *) missing="$missing busybox-static" ;; esac
fi

rust_missing=''
command -v cargo >/dev/null 2>&1 || rust_missing="cargo"
if command -v cargo >/dev/null 2>&1; then
    cargo clippy --version >/dev/null 2>&1 || rust_missing="$rust_missing clippy"
    cargo fmt --version >/dev/null 2>&1 || rust_missing="$rust_missing rustfmt"
    # the build target of .cargo/config.toml (static musl binaries)
    musl=${CARGO_BUILD_TARGET:-$(uname -m)-unknown-linux-musl}
    if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed 2>/dev/null | grep -qx "$musl"; then
        rust_missing="$rust_missing target:$musl"
    fi
fi

if [ -n "$missing" ]; then
    if [ "$check_only" = 1 ]; then
        echo "deps.sh: missing packages:$missing" >&2
    elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "deps.sh: installing$missing" >&2
        export DEBIAN_FRONTEND=noninteractive
        # shellcheck disable=SC2086 # a list of package names
        if ! apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $missing >&2; then
            apt-get -o DPkg::Lock::Timeout=600 update -q >&2
            # shellcheck disable=SC2086
            apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $missing >&2
        fi
        missing=''
    else
        echo "deps.sh: missing (install them with your package manager):$missing" >&2
    fi
fi

if [ -n "$rust_missing" ]; then
    if [ "$check_only" = 0 ] && command -v rustup >/dev/null 2>&1; then
        for c in $rust_missing; do
            case $c in
                cargo) ;;
                target:*) rustup target add "${c#target:}" >&2 ;;
                *) rustup component add "$c" >&2 ;;
            esac
        done
        case $rust_missing in *cargo*) ;; *) rust_missing='' ;; esac
    fi
    if [ -n "$rust_missing" ]; then
        echo "deps.sh: missing Rust tools:$rust_missing (install them with rustup)" >&2
        exit 1
    fi
fi

[ -z "$missing" ] || exit 1
