#!/usr/bin/env bats
# nsenter-rs create mode against a hostile image: every mount target, created file and
# created directory stays inside the rootfs whatever symlinks the image holds (the class of
# CVE-2019-19921 / CVE-2021-30465); --device; no host terminal as /dev/console.
#
# Each test builds its own busybox rootfs and plants symlinks as an attacker's image would,
# pointing at host paths under the test's own temp dir ($H) that do not exist.

load helpers

NEW=--new=pid,mnt,uts,ipc,net

setup() {
    ctrkit_setup
    # H: a host directory the image's symlinks aim at (it exists, as /etc or /root would);
    # nothing may appear in it
    export R="$BATS_TEST_TMPDIR/rootfs" H="$BATS_TEST_TMPDIR/host"
    make_busybox_rootfs "$R"
    mkdir -p "$BATS_TEST_TMPDIR/src" "$H"
}

# host_untouched : nothing was created in $H (file, directory or mount point)
host_untouched() {
    if [ -n "$(ls -A "$H")" ]; then
        echo "created on the host:" >&2
        find "$H" >&2
        return 1
    fi
}

@test "/etc/hostname, /etc/hosts, /etc/resolv.conf as absolute symlinks to the host: bound inside" {
    require_root
    local s=$BATS_TEST_TMPDIR/src f
    for f in hostname hosts resolv.conf; do
        printf 'bound-%s\n' "$f" >"$s/$f"
        ln -sf "$H/$f" "$R/etc/$f"
    done
    run_tool nsenter-rs $NEW --rootfs "$R" \
        --bind "$s/hostname:/etc/hostname" --bind "$s/hosts:/etc/hosts" \
        --bind "$s/resolv.conf:/etc/resolv.conf:ro" -- \
        sh -c 'cat /etc/hostname /etc/hosts /etc/resolv.conf
               if echo x 2>/dev/null >/etc/resolv.conf; then echo writable; else echo read-only; fi'
    assert_eq "$output" "bound-hostname
bound-hosts
bound-resolv.conf
read-only"
    host_untouched
    # the targets were made where the symlinks lead within the rootfs
    [ -f "$R/$H/hostname" ] && [ -f "$R/$H/resolv.conf" ]
    [ "$(cat "$s/resolv.conf")" = bound-resolv.conf ]
}

@test "a volume target behind an absolute symlink to a host directory stays inside" {
    require_root
    local s=$BATS_TEST_TMPDIR/src victim=$BATS_TEST_TMPDIR/victim
    echo volume >"$s/file"
    mkdir "$victim" && echo host >"$victim/sentinel"
    ln -s "$H" "$R/data"
    ln -s "$victim" "$R/vol"
    ln -s "$H/missing" "$R/dangling"
    run_tool nsenter-rs $NEW --rootfs "$R" --bind "$s:/data/sub" --bind "$s:/vol" \
        --bind "$s:/dangling" -- sh -c 'cat /data/sub/file /vol/file /dangling/file; ls /vol'
    assert_eq "$output" "volume
volume
volume
file"
    host_untouched
    assert_eq "$(ls "$victim")" sentinel
}

@test "a tmpfs target behind an absolute symlink to a host directory stays inside" {
    require_root
    ln -s "$H" "$R/scratch"
    ln -s "$H" "$R/scratch2"
    run_tool nsenter-rs $NEW --rootfs "$R" --tmpfs /scratch --tmpfs /scratch2/sub -- \
        sh -c "touch /scratch/x /scratch2/sub/y && awk '\$2 ~ \"^$H\" {print \$2, \$3}' /proc/mounts"
    assert_eq "$output" "$H tmpfs
$H/sub tmpfs"
    host_untouched
}

@test "a relative ../../.. symlink target is clamped to the rootfs" {
    require_root
    local s=$BATS_TEST_TMPDIR/src up
    echo rel >"$s/file"
    up=$(printf '../%.0s' 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
    ln -s "$up${H#/}" "$R/rel"
    run_tool nsenter-rs $NEW --rootfs "$R" --bind "$s:/rel/sub" --tmpfs /rel/tmp -- \
        sh -c 'cat /rel/sub/file && touch /rel/tmp/y && ls /rel/tmp'
    assert_eq "$output" "rel
y"
    host_untouched
    [ -d "$R/$H/sub" ] && [ -d "$R/$H/tmp" ]
}

@test "/dev as a symlink to a host directory: the container's /dev is made inside" {
    require_root
    rmdir "$R/dev"
    ln -s "$H" "$R/dev"
    run_tool nsenter-rs $NEW --rootfs "$R" -- \
        sh -c 'echo x >/dev/null && stat -c "%F %t:%T" /dev/null && ls /dev/pts/ptmx'
    assert_eq "$output" "character special file 1:3
/dev/pts/ptmx"
    host_untouched
}

@test "a target through /proc's magic links (/proc/self/root) is refused, nothing on the host" {
    require_root
    local s=$BATS_TEST_TMPDIR/src
    echo f >"$s/hostname"
    ln -sf "/proc/self/root$H/hostname" "$R/etc/hostname"
    run_tool --rc 125 nsenter-rs $NEW --rootfs "$R" --bind "$s/hostname:/etc/hostname" -- true
    assert_error nsenter-rs "cannot resolve /etc/hostname in $R"
    host_untouched
}

@test "/proc or /sys as a symlink: one-line error, exit 125, nothing on the host" {
    require_root
    local d
    for d in proc sys; do
        rmdir "$R/$d"
        ln -s "$H" "$R/$d"
        run_tool --rc 125 nsenter-rs $NEW --rootfs "$R" -- true
        assert_error nsenter-rs "/$d in the rootfs is a symlink"
        host_untouched
        rm "$R/$d" && mkdir "$R/$d"
    done
}

@test "a bind of a file onto a directory (or back) is a one-line error" {
    require_root
    local s=$BATS_TEST_TMPDIR/src
    echo f >"$s/file"
    run_tool --rc 125 nsenter-rs $NEW --rootfs "$R" --bind "$s/file:/etc" -- true
    assert_error nsenter-rs "cannot bind $s/file on /etc: $s/file is a file but /etc is a directory"
    run_tool --rc 125 nsenter-rs $NEW --rootfs "$R" --bind "$s:/etc/passwd" -- true
    assert_error nsenter-rs "cannot bind $s on /etc/passwd: $s is a directory but /etc/passwd is not a directory"
    # the same through a symlink in the image
    ln -s /etc "$R/etclink"
    run_tool --rc 125 nsenter-rs $NEW --rootfs "$R" --bind "$s/file:/etclink" -- true
    assert_error nsenter-rs "is a directory"
}

@test "--device /dev/loop-control appears inside as c 10:237, in a user namespace too" {
    require_root
    [ -c /dev/loop-control ] || skip "no /dev/loop-control"
    run_tool nsenter-rs $NEW --rootfs "$R" --device /dev/loop-control -- \
        stat -c '%F %t:%T %a %u' /dev/loop-control
    assert_eq "$output" "character special file a:ed $(stat -c '%a %u' /dev/loop-control)"
    # no mknod in a new user namespace: the host node is bound
    run_tool nsenter-rs $NEW,user --map-root-user --rootfs "$R" --device /dev/loop-control -- \
        stat -c '%F %t:%T' /dev/loop-control
    assert_eq "$output" "character special file a:ed"
}

@test "--device HOST:CONTAINER makes parents inside, even behind a hostile symlink" {
    require_root
    ln -s "$H" "$R/data"
    run_tool nsenter-rs $NEW --rootfs "$R" --device /dev/null:/dev/mynull \
        --device /dev/zero:/dev/sub/dir/myzero:r --device /dev/null:/data/null -- \
        sh -c 'echo x >/dev/mynull && stat -c "%t:%T" /dev/mynull /dev/sub/dir/myzero /data/null'
    assert_eq "$output" "1:3
1:5
1:3"
    host_untouched
}

@test "--device on a file or a missing path: one-line error naming it, exit 125" {
    require_root
    run_tool --rc 125 nsenter-rs $NEW --rootfs "$R" --device /etc/passwd -- true
    assert_error nsenter-rs "--device /etc/passwd: not a character or block device"
    run_tool --rc 125 nsenter-rs $NEW --rootfs "$R" --device /nonexistent -- true
    assert_error nsenter-rs "--device /nonexistent: ENOENT"
    run_tool --rc 2 nsenter-rs $NEW --rootfs "$R" --device /dev/null:/dev/x:rwz -- true
    assert_error nsenter-rs "rwz"
    run_tool --rc 2 nsenter-rs $NEW --device /dev/null -- true
    assert_error nsenter-rs "--device needs --rootfs"
}

@test "--dry-run --json lists the devices with their permissions" {
    run_tool nsenter-rs --new=mnt --rootfs "$R" --device /dev/null:/dev/x:wr \
        --device /dev/zero --dry-run --json -- true
    assert_json '[.devices[] | "\(.host) \(.container) \(.permissions)"] | join(",")' \
        "/dev/null /dev/x rw,/dev/zero /dev/zero rwm"
}

@test "the caller's terminal is not the container's /dev/console" {
    require_root
    require_cmd script
    local out=$BATS_TEST_TMPDIR/out
    # a real terminal on stdin: script(1) runs the command on a new pty
    script -qec "nsenter-rs $NEW --rootfs '$R' -- sh -c \
        '[ -t 0 ] && echo on a tty; if [ -e /dev/console ]; then stat -c \"console %t:%T\" /dev/console; else echo no console; fi' \
        >'$out' 2>&1" /dev/null </dev/null >/dev/null
    run cat "$out"
    # the command did run on a terminal (the pty script made), yet sees no console
    assert_eq "${lines[0]}" "on a tty"
    assert_eq "${lines[1]}" "no console"
}
