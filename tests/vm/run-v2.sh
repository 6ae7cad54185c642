#!/usr/bin/env bash
# run-v2.sh - run ctrkit's cgroup bats files on a real, pure cgroup v2 kernel.
#
# Usage: tests/vm/run-v2.sh [FILE.bats...]      (default: tests/2[0-9]-*.bats and the
#                                                 rootless limits, tests/86-rootless-v2.bats)
#
# Boots Debian's stock kernel (linux-image-amd64, fetched with `apt-get download`, never
# installed) under qemu once, with:
#   /               an overlay of the host's / (9p, read-only) and a tmpfs: every host
#                   tool, bats, and the host-built binaries ($CTRKIT_BIN) run unchanged
#   /sys/fs/cgroup  cgroup2 only, +cpu +memory +pids +io +cpuset enabled at the root
#   /tmp /run       fresh tmpfs; no network interface but lo
#   /dev/vda        a 1 MiB virtio disk whose first line is "ctrkit-vm-disk"
# runs the bats files inside, then prints bats' TAP and a last line
#   vm: N passed, N failed, N skipped
# Exit status: 0 only when every test passed. When qemu cannot run here at all it says
# why and prints `vm: 0 passed, 0 failed, N skipped` (N = the tests it would have run),
# exit 0. Needs root. Installs its apt dependencies (qemu-system-x86 busybox-static cpio
# kmod) when missing. The kernel and initramfs are cached in $CTRKIT_VM_CACHE
# (default /var/cache/ctrkit-vm), so later runs boot in seconds.
#
# Environment: CTRKIT_BIN (default target/x86_64-unknown-linux-musl/debug), CTRKIT_VM_TIMEOUT (seconds, default 600),
# CTRKIT_VM_ACCEL (tcg|kvm, default tcg: /dev/kvm cannot boot stock kernels here),
# CTRKIT_VM_CPUS (2), CTRKIT_VM_MEM (MiB, 1536), CTRKIT_VM_DEBUG=1 shows the boot log.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
cd "$src"

files=()
for f in "$@"; do files+=("$(realpath "$f")"); done
if [ ${#files[@]} -eq 0 ]; then
    for f in tests/2[0-9]-*.bats tests/86-rootless-v2.bats; do [ -f "$f" ] && files+=("$src/$f"); done
fi
[ ${#files[@]} -gt 0 ] || { echo "run-v2: no bats files to run" >&2; exit 2; }

bin=$(realpath "${CTRKIT_BIN:-${CARGO_TARGET_DIR:-$src/target}/${CARGO_BUILD_TARGET:-x86_64-unknown-linux-musl}/debug}")
cache=${CTRKIT_VM_CACHE:-/var/cache/ctrkit-vm}
timeout_s=${CTRKIT_VM_TIMEOUT:-600}
say() { echo "run-v2: $*" >&2; }

# the number of tests the files hold, for an honest "skipped" count
ntests=$(cat "${files[@]}" | grep -cE '^@test ' || true)
unavailable() {
    echo "run-v2: cannot run the cgroup v2 suite: $*"
    echo "vm: 0 passed, 0 failed, $ntests skipped"
    exit 0
}

[ "$(id -u)" = 0 ] || unavailable "needs root (qemu reads the host's / and cgroup tests need root)"
[ -x "$bin/cgset" ] || { echo "run-v2: no cgset in $bin (build first, or set CTRKIT_BIN)" >&2; exit 2; }

# --- dependencies ------------------------------------------------------------------------
missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
{ [ -x /bin/busybox ] && /bin/busybox --list | grep -qx switch_root; } || missing+=(busybox-static)
command -v cpio >/dev/null || missing+=(cpio)
command -v depmod >/dev/null || missing+=(kmod)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt_install() {
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y \
            --no-install-recommends "${missing[@]}" >&2
    }
    apt_install || { apt-get update >&2 && apt_install; } || unavailable "cannot install ${missing[*]}"
fi
command -v qemu-system-x86_64 >/dev/null || unavailable "qemu-system-x86_64 is not installed"
[[ "$(LC_ALL=C ldd /bin/busybox 2>&1 || true)" == *"not a dynamic"* ]] || unavailable "/bin/busybox is not static"

# --- the kernel, cached ------------------------------------------------------------------
mkdir -p "$cache"
exec 8>"$cache/.lock"
flock 8
if [ ! -s "$cache/kernel/version" ]; then
    pkg_of() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'; }
    pkg=$(pkg_of)
    [ -n "$pkg" ] || { apt-get update >&2; pkg=$(pkg_of); }
    [ -n "$pkg" ] || unavailable "apt knows no linux-image-amd64"
    say "fetching $pkg (once; cached in $cache)"
    dl="$cache/download"
    rm -rf "$dl" "$cache/kernel"
    mkdir -p "$dl"
    (cd "$dl" && apt-get download "$pkg" >&2) || unavailable "cannot download $pkg"
    dpkg-deb -x "$dl"/*.deb "$dl/x"
    kver=$(ls "$dl/x/lib/modules")
    mkdir -p "$cache/kernel/lib/modules"
    cp "$dl/x/boot/vmlinuz-$kver" "$cache/kernel/vmlinuz"
    mv "$dl/x/lib/modules/$kver" "$cache/kernel/lib/modules/"
    depmod -b "$cache/kernel" "$kver"
    rm -rf "$dl"
    echo "$kver" >"$cache/kernel/version"
fi
kver=$(cat "$cache/kernel/version")
kdir="$cache/kernel"

# --- initramfs: busybox + the modules for virtio 9p and overlay, and a stage-1 init ------
# (modules in dependency order; the stock kernel has them as uncompressed .ko files)
# shellcheck disable=SC2016 # expanded by the guest's shell
init1='#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
while read -r m; do insmod "$m" 2>/dev/null; done </modules.list
fail() { echo "run-v2 guest: $*"; echo o >/proc/sysrq-trigger; sleep 5; poweroff -f; }
o=trans=virtio,version=9p2000.L,msize=524288
mkdir -p /lower /ctl /rw /new
mount -t 9p -o $o,cache=loose,ro host /lower || fail "9p root"
mount -t 9p -o $o ctl /ctl || fail "9p ctl"
mount -t tmpfs -o mode=755 rw /rw && mkdir /rw/up /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/up,workdir=/rw/work root /new || fail overlay
mount -t proc proc /new/proc; mount -t sysfs sys /new/sys; mount -t devtmpfs dev /new/dev
mkdir -p /new/dev/pts /new/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /new/dev/pts
mount -t tmpfs -o mode=1777 shm /new/dev/shm
mount -t cgroup2 -o nsdelegate cgroup2 /new/sys/fs/cgroup || fail cgroup2
mount -t tmpfs -o mode=1777 tmp /new/tmp; mount -t tmpfs -o mode=1777 tmp /new/var/tmp
mount -t tmpfs -o mode=755 run /new/run
# the source tree and the binaries, at their host paths (they may sit under /tmp or /run,
# which are fresh tmpfs here, e.g. a CI clone)
. /ctl/paths
mkdir -p "/new$SRC" && mount -t 9p -o $o,ro src "/new$SRC" || fail "9p src"
case "$BIN/" in "$SRC"/*) ;; *) mkdir -p "/new$BIN" && mount -t 9p -o $o,ro bin "/new$BIN" || fail "9p bin" ;; esac
kver=$(cat /kver)
mkdir -p /new/lib/modules/$kver /new/ctl
mount --bind "/lower$(cat /kdir)/lib/modules/$kver" /new/lib/modules/$kver
mount --move /ctl /new/ctl
exec switch_root /new /ctl/stage2'
mods="virtio_pci 9pnet_virtio 9p overlay virtio_blk"
ihash=$({ echo "$init1$mods$kver"; md5sum </bin/busybox; } | md5sum | cut -c1-16)
initrd="$cache/initrd-$ihash.gz"
if [ ! -f "$initrd" ]; then
    t=$(mktemp -d /tmp/ctrkit-vm-initrd.XXXXXX)
    mkdir -p "$t/bin" "$t/dev" "$t/proc" "$t/sys"
    cp /bin/busybox "$t/bin/"
    printf '%s\n' "$init1" >"$t/init"
    chmod +x "$t/init"
    echo "$kver" >"$t/kver"
    echo "$kdir" >"$t/kdir"
    : >"$t/modules.list"
    for m in $mods; do
        modprobe -d "$kdir" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
    done | awk '!seen[$0]++' | while read -r ko; do
        rel=${ko#"$kdir"}
        mkdir -p "$t$(dirname "$rel")"
        cp "$ko" "$t$rel"
        echo "$rel" >>"$t/modules.list"
    done
    (cd "$t" && find . | cpio -o -H newc --quiet | gzip -1) >"$initrd.tmp"
    mv "$initrd.tmp" "$initrd"
    rm -rf "$t"
fi
flock -u 8

# --- this run's control share: stage 2 and the test list ----------------------------------
ctl=$(mktemp -d /tmp/ctrkit-vm-run.XXXXXX)
trap 'rm -rf "$ctl"' EXIT
cp /bin/busybox "$ctl/busybox"
# a small disk of the guest's own (/dev/vda), for tests of block device rules: the host's
# disks cannot be opened even by root here. Its first sector holds a marker.
{ printf 'ctrkit-vm-disk\n'; head -c 1048561 /dev/zero; } >"$ctl/disk.img"
printf 'SRC=%s\nBIN=%s\n' "'$src'" "'$bin'" >"$ctl/paths"
{
    printf 'CTRKIT_BIN=%q\n' "$bin"
    printf 'CTRKIT_SRC=%q\n' "$src"
    printf 'CTRKIT_VM_TEST_TIMEOUT=%q\n' "${CTRKIT_VM_TEST_TIMEOUT:-150}"
    printf 'files=('
    printf ' %q' "${files[@]}"
    printf ' )\n'
} >"$ctl/env"
cat >"$ctl/stage2" <<'STAGE2'
#!/ctl/busybox sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C.UTF-8 CTRKIT_VM_GUEST=1
/ctl/busybox hostname ctrkit-v2
# devtmpfs has no /dev/fd (bash process substitution needs it)
/ctl/busybox ln -sf /proc/self/fd /dev/fd
for i in 0:stdin 1:stdout 2:stderr; do /ctl/busybox ln -sf "/proc/self/fd/${i%%:*}" "/dev/${i#*:}"; done
/ctl/busybox ip link set lo up
for c in cpu memory pids io cpuset; do
    echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control || echo "run-v2 guest: cannot enable $c"
done
/bin/bash -c '
    . /ctl/env
    export CTRKIT_BIN CTRKIT_SRC
    export CTRKIT_TEST_CGROUP=ctrkit-vm-test CTRKIT_TEST_TMP=/tmp/ctrkit-vm-test
    mkdir -p "$CTRKIT_TEST_TMP"
    cd "$CTRKIT_SRC"
    echo "# guest kernel $(uname -r), $(stat -fc %T /sys/fs/cgroup) at /sys/fs/cgroup, controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
    export BATS_TEST_TIMEOUT=${CTRKIT_VM_TEST_TIMEOUT:-150}
    bats --tap --timing "${files[@]}" >/ctl/tap 2>&1
    echo $? >/ctl/bats-rc
    # leak check: the suite must leave no cgroup behind
    if [ -d /sys/fs/cgroup/$CTRKIT_TEST_CGROUP ]; then
        find /sys/fs/cgroup/$CTRKIT_TEST_CGROUP -mindepth 1 -type d >/ctl/leaks
        find /sys/fs/cgroup/$CTRKIT_TEST_CGROUP -depth -type d -exec rmdir {} \; 2>/dev/null
    fi
' </dev/null
/ctl/busybox sync
/ctl/busybox poweroff -f
STAGE2
chmod +x "$ctl/stage2"

accel=(-accel "tcg,thread=multi" -cpu max)
[ "${CTRKIT_VM_ACCEL:-tcg}" = kvm ] && accel=(-accel kvm -cpu host)
append="console=ttyS0 panic=-1 mitigations=off tsc=reliable no_timer_check"
[ "${CTRKIT_VM_DEBUG:-0}" = 1 ] || append+=" quiet loglevel=3"
fsopt="local,security_model=none,multidevs=remap"
say "booting $kver (${#files[@]} bats file(s), $ntests tests, timeout ${timeout_s}s)"
start=$(date +%s)
set +e
timeout -k 10 "$timeout_s" qemu-system-x86_64 "${accel[@]}" -m "${CTRKIT_VM_MEM:-1536}" \
    -smp "${CTRKIT_VM_CPUS:-2}" -machine q35 -bios /usr/share/qemu/qboot.rom \
    -display none -vga none -serial stdio -monitor none -no-reboot -nic none \
    -kernel "$kdir/vmlinuz" -initrd "$initrd" -append "$append" \
    -drive "file=$ctl/disk.img,if=virtio,format=raw" \
    -virtfs "$fsopt,path=/,mount_tag=host,readonly=on" \
    -virtfs "$fsopt,path=$ctl,mount_tag=ctl" \
    -virtfs "$fsopt,path=$src,mount_tag=src,readonly=on" \
    -virtfs "$fsopt,path=$bin,mount_tag=bin,readonly=on" </dev/null >"$ctl/console" 2>&1
qrc=$?
set -e
say "VM ran $(($(date +%s) - start))s (qemu exit $qrc)"
if [ ! -f "$ctl/bats-rc" ]; then
    tr -d '\r' <"$ctl/console" | tail -30 >&2
    if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
        [ -f "$ctl/tap" ] && cat "$ctl/tap"
        echo "run-v2: the VM timed out after ${timeout_s}s"
    else
        echo "run-v2: no result came back from the VM (qemu exit $qrc)"
    fi
    echo "vm: 0 passed, 1 failed, 0 skipped"
    exit 1
fi
[ "${CTRKIT_VM_DEBUG:-0}" = 1 ] && tr -d '\r' <"$ctl/console" >&2
cat "$ctl/tap"
passed=$(grep -cE '^ok [0-9]+' "$ctl/tap" || true)
skipped=$(grep -cE '^ok [0-9]+ .*# skip' "$ctl/tap" || true)
failed=$(grep -cE '^not ok [0-9]+' "$ctl/tap" || true)
passed=$((passed - skipped))
if [ -s "$ctl/leaks" ]; then
    echo "leak check (guest): cgroups left behind:"
    sed 's/^/  /' "$ctl/leaks"
    failed=$((failed + 1))
fi
bats_rc=$(cat "$ctl/bats-rc")
if [ "$bats_rc" != 0 ] && [ "$failed" = 0 ]; then
    echo "run-v2: bats exited $bats_rc inside the VM"
    failed=1
fi
echo "vm: $passed passed, $failed failed, $skipped skipped"
[ "$bats_rc" = 0 ] && [ "$failed" = 0 ]
