#!/usr/bin/env bats
# cgset --devices / --device-rule: which device nodes a cgroup's processes may create and
# open, tried as an attacker would (mknod a node, then open it). On this host's v1 devices
# controller, and inside tests/vm/run-v2.sh on pure cgroup v2, where a BPF program does it
# (that VM has a disk of its own, /dev/vda: block devices cannot be opened on this host).

load helpers

setup_file() {
    ctrkit_setup_file
    MODE=$(cgset info --json | jq -r .mode)
    export MODE
}

teardown() {
    cgset delete --kill --missing-ok "$TEST_CGROUP" >/dev/null 2>&1 || true
    ctrkit_teardown
}

# in_cg CGROUP SCRIPT : run sh -c SCRIPT in the cgroup
in_cg() {
    run_tool cgset exec "$1" -- sh -c "$2"
}

# a char device root can open on this host but that Docker's list leaves out
# (/dev/loop-control 10:237; /dev/vcs 7:0 as the second choice)
char_node() {
    local d=$BATS_TEST_TMPDIR/nodes
    mkdir -p "$d"
    rm -f "$d/lc"
    mknod "$d/lc" c 10 237
    echo "$d/lc"
}

@test "--devices container: mknod works, only Docker's list opens; /dev/null still does" {
    require_root
    local g="$TEST_CGROUP/container" n
    n=$(char_node)
    # outside any rule, root opens the node (the proof that it is the rule that refuses)
    (exec 3<>"$n") || skip "this machine does not let root open $n"
    cgset create "$g" --parent-ok --devices container
    in_cg "$g" "mknod $BATS_TEST_TMPDIR/nodes/made c 10 237 && echo MADE;
        (exec 3<>$n) && echo OPENED; (exec 4<>/dev/null) && echo NULL-OK; (exec 5</dev/urandom) && echo URANDOM-OK"
    assert_contains "$output" MADE
    assert_contains "$output" NULL-OK
    assert_contains "$output" URANDOM-OK
    [[ "$output" != *OPENED* ]]
    assert_contains "$stderr" "Operation not permitted"
}

@test "--device-rule allows one more; 'r' alone lets read through but not write" {
    require_root
    local g="$TEST_CGROUP/rule" n
    n=$(char_node)
    (exec 3<>"$n") || skip "this machine does not let root open $n"
    cgset create "$g" --parent-ok --devices container --device-rule 'c 10:237 r'
    in_cg "$g" "(exec 3<$n) && echo READ-OK; (exec 4<>$n) && echo RW-OK; true"
    assert_contains "$output" READ-OK
    [[ "$output" != *RW-OK* ]]
    cgset set "$g" --devices container --device-rule 'c 10:237 rwm'
    in_cg "$g" "(exec 4<>$n) && echo RW-OK"
    assert_contains "$output" RW-OK
}

@test "cgset set replaces the rules: none refuses even /dev/null, all allows everything" {
    require_root
    local g="$TEST_CGROUP/replace" n
    n=$(char_node)
    (exec 3<>"$n") || skip "this machine does not let root open $n"
    cgset create "$g" --parent-ok --devices container
    cgset set "$g" --devices none
    in_cg "$g" "(exec 3<>/dev/null) && echo NULL-OK; true"
    [[ "$output" != *NULL-OK* ]]
    cgset set "$g" --devices all
    in_cg "$g" "(exec 3<>$n) && echo OPENED"
    assert_contains "$output" OPENED
}

@test "get --json shows the rules on both hierarchies" {
    require_root
    local g="$TEST_CGROUP/get"
    cgset create "$g" --parent-ok --devices container --device-rule 'b 7:* r'
    run_tool cgset get "$g" --json
    assert_json '.devices | length' 13
    assert_json '.devices | index("c 136:* rwm") != null' true
    assert_json '.devices | index("c *:* m") != null' true
    assert_json '.devices | index("b 7:* r") != null' true
    run_tool cgset get "$g" devices
    assert_contains "$output" "c 1:3 rwm, "
    cgset set "$g" --devices all
    run_tool cgset get "$g" --json
    assert_json '.devices | join(",")' "a *:* rwm"
}

@test "bad rules are usage errors naming the rule; nothing is created" {
    require_root
    local g="$TEST_CGROUP/bad"
    run_tool --rc 2 cgset create "$g" --parent-ok --devices container --device-rule 'x 1:2 r'
    assert_error cgset "x 1:2 r"
    run_tool --rc 2 cgset create "$g" --parent-ok --devices container --device-rule 'c 1:2 rz'
    assert_error cgset "c 1:2 rz"
    run_tool --rc 2 cgset create "$g" --parent-ok --device-rule 'c 1:2 r'
    assert_error cgset "--devices"
    for d in /sys/fs/cgroup/*/"$g" /sys/fs/cgroup/"$g"; do [ ! -e "$d" ]; done
}

@test "a block device: readable by root outside, refused inside the container policy" {
    require_root
    local g="$TEST_CGROUP/block" dev majmin n
    # the VM's own disk; on this host no block device can be opened, even by root
    for dev in /sys/block/vd* /sys/block/sd* /sys/block/nvme*; do
        [ -r "$dev/dev" ] || continue
        majmin=$(cat "$dev/dev")
        n=$BATS_TEST_TMPDIR/blk
        rm -f "$n"
        mknod "$n" b "${majmin%%:*}" "${majmin#*:}"
        if dd if="$n" of=/dev/null bs=512 count=1 2>/dev/null; then break; fi
        majmin=''
    done
    [ -n "$majmin" ] || skip "no block device root can read here (the cgroup v2 VM has one)"
    cgset create "$g" --parent-ok --devices container
    in_cg "$g" "dd if=$n of=/dev/null bs=512 count=1 && echo READ-OK; true"
    [[ "$output" != *READ-OK* ]]
    assert_contains "$stderr" "Operation not permitted"
    cgset set "$g" --devices container --device-rule "b $majmin r"
    in_cg "$g" "dd if=$n bs=512 count=1 2>/dev/null | head -c 14"
    if [ -n "${CTRKIT_VM_GUEST-}" ]; then assert_eq "$output" ctrkit-vm-disk; fi
}
