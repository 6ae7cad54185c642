#!/usr/bin/env bats
# nsenter-rs --mnt-template FILE: the container's mount namespace made from a small pinned
# one, not copied from the host's (issue 23). The container must see the very same mounts as
# without it, binds and devices included; the template holds nothing of the host's; a user
# namespace leaves it unused; bad input leaves nothing pinned.
#
# Every case runs in a mount namespace of its own (unshare -m), so the pin goes with it.

load helpers

NEW=--new=pid,mnt,uts,ipc,net

setup() {
    ctrkit_setup
    require_root
    export R="$BATS_TEST_TMPDIR/rootfs" S="$BATS_TEST_TMPDIR/src" T="$BATS_TEST_TMPDIR/tpl"
    make_busybox_rootfs "$R"
    mkdir -p "$S/sub"
    echo volume >"$S/file"
}

# in_ns SCRIPT : SCRIPT in a private mount namespace (the test's pins and mounts die with it)
in_ns() {
    run_tool unshare -m --propagation private sh -ec "$1"
}

@test "the container sees the same mounts with the template as without; binds, devices, tmpfs" {
    # 40 extra host mounts, as containers' overlays would be: none may show inside either way
    in_ns "
        for i in \$(seq 1 40); do mkdir -p '$BATS_TEST_TMPDIR/m/'\$i; mount -t tmpfs m '$BATS_TEST_TMPDIR/m/'\$i; done
        mount -t tmpfs sub '$S/sub'; echo under >'$S/sub/f'
        for t in '' '--mnt-template $T/mnt'; do
            nsenter-rs $NEW --rootfs '$R' \$t --bind '$S:/data:ro' --bind '$S/file:/etc/vol' \
                --tmpfs /run --device /dev/null:/dev/mynull -- sh -c '
                cat /data/sub/f /etc/vol; stat -c \"%t:%T\" /dev/mynull
                if touch /data/x 2>/dev/null; then echo data writable; else echo data read-only; fi
                cut -d\" \" -f4- /proc/self/mountinfo | sort'
            echo ==
        done"
    local without=${output%%==*} with=${output#*==}
    with=${with%==*}
    with=${with#$'\n'}
    assert_eq "$with" "$without"
    assert_contains "$with" "under
volume
1:3
data read-only"
    # the host's extra mounts are not there, and the bind's submount came along (rbind)
    [[ "$with" != *"/m/"* ]]
    assert_contains "$with" " /data/sub "
}

@test "the template: a tmpfs root and a procfs only, pinned once and used by every container" {
    require_cmd python3 strace
    # the mount points and types of the mount namespace pinned at argv[1], from inside it
    cat >"$BATS_TEST_TMPDIR/ns-mounts.py" <<'EOF'
import ctypes, os, sys
if ctypes.CDLL(None, use_errno=True).setns(os.open(sys.argv[1], os.O_RDONLY), 0x20000) != 0:
    sys.exit("setns: " + os.strerror(ctypes.get_errno()))
for line in open("/proc/self/mountinfo"):
    print(line.split()[4], line.split(" - ")[1].split()[0])
EOF
    in_ns "
        nsenter-rs $NEW --rootfs '$R' --mnt-template '$T/mnt' -- true
        stat -c 'mode %a' '$T'
        awk '\$5 == \"$T/mnt\" { print \$9 }' /proc/self/mountinfo
        ino=\$(stat -L -c %i '$T/mnt')
        # (read from inside: python3 enters it and reads the template's own /proc)
        python3 '$BATS_TEST_TMPDIR/ns-mounts.py' '$T/mnt'
        # the second container enters that namespace (setns CLONE_NEWNS) and clones none
        strace -f -qq -e trace=setns,unshare -o '$BATS_TEST_TMPDIR/st' \
            nsenter-rs $NEW --rootfs '$R' --mnt-template '$T/mnt' -- true
        [ \"\$(stat -L -c %i '$T/mnt')\" = \"\$ino\" ] && echo same namespace
        grep -c 'CLONE_NEWNS' '$BATS_TEST_TMPDIR/st'
        nsenter-rs --unpin '$T'
        [ ! -e '$T' ] && echo unpinned"
    assert_eq "$output" "mode 700
nsfs
/ tmpfs
/proc proc
same namespace
2
unpinned"
    # (the 2: setns into the template, then unshare of a copy of it)
    assert_contains "$(cat "$BATS_TEST_TMPDIR/st")" "setns("
}

@test "a bind source holding a pinned mount namespace (the template's own): bound as without" {
    # the kernel attaches no detached copy that holds a mount namespace's pin (ELOOP), where a
    # bind in a copy of the host's tree takes it along: that container is built the old way
    local v=$BATS_TEST_TMPDIR/v
    mkdir -p "$v/sub"
    echo top >"$v/f"
    in_ns "
        nsenter-rs $NEW --rootfs '$R' --mnt-template '$v/tpl/mnt' -- true
        mount -t tmpfs sub '$v/sub' && echo under >'$v/sub/g'
        nsenter-rs $NEW --rootfs '$R' --mnt-template '$v/tpl/mnt' --bind '$v:/x' -- \
            sh -c 'cat /x/f /x/sub/g; cut -d\" \" -f5 /proc/self/mountinfo | grep \"^/x\" | grep -v tpl | sort'
        nsenter-rs --unpin '$v/tpl'"
    # (whether the pin itself comes along depends on the namespaces' IDs: left out here)
    assert_eq "$output" "top
under
/x
/x/sub"
}

@test "a user namespace, --join mnt and no rootfs: the template is left unused or refused" {
    in_ns "
        nsenter-rs $NEW,user --map-root-user --rootfs '$R' --mnt-template '$T/mnt' -- cat /data 2>/dev/null || true
        [ -e '$T/mnt' ] && echo made || echo not made"
    assert_eq "$output" "not made"
    run_tool --rc 2 nsenter-rs $NEW --mnt-template "$T/mnt" -- true
    assert_error nsenter-rs "--mnt-template needs --rootfs"
    [ ! -e "$T" ]
}

@test "bad input: an uncreatable FILE, a missing bind source: one line, nothing pinned or left" {
    in_ns "
        nsenter-rs $NEW --rootfs '$R' --mnt-template /etc/passwd/x/mnt -- true 2>'$BATS_TEST_TMPDIR/e1' || echo rc=\$?
        nsenter-rs $NEW --rootfs '$R' --mnt-template '$T/mnt' --bind '$S/missing:/m' -- true 2>'$BATS_TEST_TMPDIR/e2' || echo rc=\$?
        grep -c -e '$R' -e '$T' /proc/self/mountinfo || true"
    assert_eq "$output" "rc=125
rc=125
0"
    run cat "$BATS_TEST_TMPDIR/e1"
    assert_contains "$output" "nsenter-rs: error: cannot open --mnt-template /etc/passwd/x/mnt"
    run cat "$BATS_TEST_TMPDIR/e2"
    assert_contains "$output" "nsenter-rs: error: bind source $S/missing"
    [ ! -e "$R/m" ] && [ ! -e "$T" ]
}
