#!/usr/bin/env bats
# A default container, tried as an attacker inside it would: devices, seccomp, mount targets
# behind the image's symlinks, descriptors, the tool's own binary, capabilities, the caller's
# terminal and environment. Each way out must be closed, and each relaxing flag must work.

load helpers
load 60-ctr-helpers

setup_file() { ctr_setup_file; }
teardown_file() { ctr_teardown_file; }
teardown() { ctr_teardown; }

# hostile_image : the image `hostile`, made once per file: busybox, whose /etc/hostname,
# /etc/hosts, /etc/resolv.conf, /data (a volume target) and /scratch (a tmpfs target) are
# absolute symlinks to paths of this host under $HOSTSIDE (which must stay empty), /up a
# relative one that climbs out, and whose config has Env ["SECRET", ...] without a value
hostile_image() {
    export HOSTSIDE=$TEST_DIR/hostside
    mkdir -p "$HOSTSIDE"
    layermount inspect hostile >/dev/null 2>&1 && return 0
    local d=$TEST_DIR/hostile r h
    r=$d/rootfs
    make_busybox_rootfs "$r"
    ln -s "$HOSTSIDE/hostname" "$r/etc/hostname"
    ln -s "$HOSTSIDE/hosts" "$r/etc/hosts"
    ln -s "$HOSTSIDE/resolv.conf" "$r/etc/resolv.conf"
    ln -s "$HOSTSIDE/data" "$r/data"
    ln -s "$HOSTSIDE/scratch" "$r/scratch"
    ln -s ../../../../../../../../.."$HOSTSIDE/up" "$r/up"
    mkdir -p "$d/archive"
    tar --owner=0 --group=0 -C "$r" -cf "$d/layer.tar" .
    h=$(sha256sum "$d/layer.tar" | cut -d' ' -f1)
    mkdir -p "$d/archive/$h"
    mv "$d/layer.tar" "$d/archive/$h/layer.tar"
    jq -cn --arg id "sha256:$h" '{architecture:"amd64", os:"linux",
        config:{Cmd:["/bin/sh"], Env:["PATH=/usr/sbin:/usr/bin:/sbin:/bin","SECRET"]},
        rootfs:{type:"layers", diff_ids:[$id]}}' >"$d/archive/cfg.json"
    local c
    c=$(sha256sum "$d/archive/cfg.json" | cut -d' ' -f1)
    mv "$d/archive/cfg.json" "$d/archive/$c.json"
    jq -cn --arg c "$c.json" --arg l "$h/layer.tar" \
        '[{Config:$c, RepoTags:["hostile:latest"], Layers:[$l]}]' >"$d/archive/manifest.json"
    tar -C "$d/archive" -cf "$d/hostile.tar" .
    layermount import "$d/hostile.tar" >/dev/null
}

# host_side_untouched : nothing was created under $HOSTSIDE, nor mounted there
host_side_untouched() {
    local left
    left=$(find "$HOSTSIDE" -mindepth 1 2>/dev/null)
    [ -z "$left" ] || { echo "created on the host: $left" >&2; return 1; }
    ! grep -F " $HOSTSIDE" /proc/self/mountinfo || { echo "mounted on the host side" >&2; return 1; }
}

@test "devices: mknod works, but a node outside Docker's list cannot be opened" {
    need_run
    # /dev/loop-control (10:237) and /dev/vcs (7:0): root can open both on this host
    run_tool ctr-run --rm --network none busybox sh -c \
        'mknod /tmp/lc c 10 237 && mknod /tmp/vcs c 7 0 && echo made;
         (exec 3<>/tmp/lc) && echo LC-OPEN; (exec 4</tmp/vcs) && echo VCS-OPEN; (exec 5<>/dev/null) && echo NULL-OPEN'
    assert_contains "$output" made
    assert_contains "$output" NULL-OPEN
    [[ "$output" != *LC-OPEN* ]]
    [[ "$output" != *VCS-OPEN* ]]
    assert_contains "$stderr" "Operation not permitted"
    no_leftovers none
}

@test "devices: --device, --device-cgroup-rule and --privileged each allow one" {
    need_run
    run_tool ctr-run --rm --network none --device /dev/loop-control busybox sh -c \
        'ls -l /dev/loop-control; (exec 3<>/dev/loop-control) && echo LC-OPEN'
    assert_match "$output" '^c[rw-]+ .* 10, +237 .*/dev/loop-control'
    assert_contains "$output" LC-OPEN
    run_tool ctr-run --rm --network none --device /dev/loop-control:/dev/lc:r busybox sh -c \
        '(exec 3</dev/lc) && echo READ-OK; (exec 4<>/dev/lc) && echo RW-OPEN; true'
    assert_contains "$output" READ-OK
    [[ "$output" != *RW-OPEN* ]]
    run_tool ctr-run --rm --network none --device-cgroup-rule 'c 10:237 rwm' busybox sh -c \
        'mknod /tmp/lc c 10 237 && (exec 3<>/tmp/lc) && echo LC-OPEN'
    assert_contains "$output" LC-OPEN
    run_tool ctr-run --rm --network none --privileged busybox sh -c \
        'mknod /tmp/vcs c 7 0 && (exec 3</tmp/vcs) && echo VCS-OPEN'
    assert_contains "$output" VCS-OPEN
    run_tool --rc 125 ctr-run --rm --network none --device /etc/passwd busybox true
    assert_contains "$stderr" "/etc/passwd"
    no_leftovers none
}

@test "seccomp: Seccomp 2 by default and unshare -U is refused; ctr-exec is filtered too" {
    need_run
    run_tool ctr-run --rm --network none busybox sh -c \
        'grep ^Seccomp: /proc/self/status; unshare -U true && echo UNSHARED || echo REFUSED'
    assert_match "$output" 'Seccomp:[[:space:]]+2'
    assert_contains "$output" REFUSED
    run_tool ctr-run -d --network none --name filtered busybox sleep 300
    run_tool ctr-exec filtered sh -c 'grep ^Seccomp: /proc/self/status; unshare -U true && echo UNSHARED || echo REFUSED'
    assert_match "$output" 'Seccomp:[[:space:]]+2'
    assert_contains "$output" REFUSED
    run_tool ctr-rm -f filtered
    no_leftovers filtered
}

@test "seccomp: --security-opt seccomp=unconfined and a Docker-format profile" {
    need_run
    run_tool ctr-run --rm --network none --security-opt seccomp=unconfined busybox \
        grep ^Seccomp: /proc/self/status
    assert_match "$output" 'Seccomp:[[:space:]]+0'
    cat >"$TEST_DIR/nomkdir.json" <<'EOF'
{"defaultAction": "SCMP_ACT_ALLOW",
 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
EOF
    run_tool ctr-run --rm --network none --security-opt "seccomp=$TEST_DIR/nomkdir.json" busybox \
        sh -c 'mkdir /tmp/x && echo MADE; touch /tmp/y && echo TOUCHED'
    [[ "$output" != *MADE* ]]
    assert_contains "$stderr" "Operation not permitted"
    assert_contains "$output" TOUCHED
    # the same filter for ctr-exec
    run_tool ctr-run -d --network none --name nomk --security-opt "seccomp=$TEST_DIR/nomkdir.json" \
        busybox sleep 300
    run_tool ctr-exec nomk sh -c 'mkdir /tmp/x && echo MADE; echo done'
    [[ "$output" != *MADE* ]]
    assert_contains "$output" done
    run_tool ctr-rm -f nomk
    run_tool --rc 125 ctr-run --rm --network none --security-opt seccomp=/no/such.json busybox true
    assert_contains "$stderr" /no/such.json
    run_tool --rc 125 ctr-run --rm --network none --security-opt bogus=1 busybox true
    assert_contains "$stderr" bogus
    no_leftovers none
}

@test "no_new_privs: set by default; --security-opt no-new-privileges=false lifts it" {
    need_run
    run_tool ctr-run --rm --network none busybox grep ^NoNewPrivs: /proc/self/status
    assert_match "$output" 'NoNewPrivs:[[:space:]]+1'
    run_tool ctr-run --rm --network none --security-opt no-new-privileges=false busybox \
        grep ^NoNewPrivs: /proc/self/status
    assert_match "$output" 'NoNewPrivs:[[:space:]]+0'
    run_tool ctr-run --rm --network none --security-opt no-new-privileges busybox \
        grep ^NoNewPrivs: /proc/self/status
    assert_match "$output" 'NoNewPrivs:[[:space:]]+1'
}

@test "an image's symlinks to host paths: /etc files, volume and tmpfs targets stay inside" {
    need_run
    hostile_image
    mkdir -p "$TEST_DIR/vol"
    echo volume-data >"$TEST_DIR/vol/file"
    # --network host binds the host's /etc/hosts and /etc/resolv.conf onto the image's
    run_tool ctr-run --rm --network host -v "$TEST_DIR/vol:/data" --tmpfs /scratch \
        -v "$TEST_DIR/vol:/up" hostile sh -c 'cat /data/file; grep -c . /etc/hosts; echo ran'
    assert_contains "$output" volume-data
    assert_contains "$output" ran
    host_side_untouched
    no_leftovers none
}

@test "an image's /etc/hostname symlink to a host path: bridge mode writes nothing there" {
    require_root
    create_test_host
    need_net
    hostile_image
    run_host ctr-run --rm --name hostile-br hostile sh -c 'cat /etc/hostname; echo ran'
    assert_contains "$output" hostile-br
    assert_contains "$output" ran
    host_side_untouched
    host_clean
}

@test "descriptors the caller left open (5 and 8) are not in the container" {
    need_run
    run_tool ctr-run --rm --network none busybox ls /proc/self/fd 5<"$BATS_TEST_FILENAME" 8<"$BATS_TEST_FILENAME"
    # 0-2, and 3: ls's own listing of the directory
    assert_eq "$(printf '%s\n' "$output" | tr '\n' ' ')" "0 1 2 3 "
    run_tool ctr-run --rm --network none --init busybox ls /proc/self/fd 5<"$BATS_TEST_FILENAME" 8<"$BATS_TEST_FILENAME"
    assert_eq "$(printf '%s\n' "$output" | tr '\n' ' ')" "0 1 2 3 "
    # a working directory through a descriptor's link is refused
    run_tool --rc 125 ctr-run --rm --network none -w /proc/self/fd/7 busybox pwd 7<"$TEST_DIR"
    assert_contains "$stderr" /proc/self/fd/7
    no_leftovers none
}

@test "--init: the container cannot open /proc/1/exe (the tool's own binary)" {
    need_run
    run_tool ctr-run --rm --network none --init busybox sh -c \
        'cat /proc/1/exe >/dev/null && echo EXE-OPENED; readlink /proc/1/exe || echo NO-LINK'
    [[ "$output" != *EXE-OPENED* ]]
    assert_contains "$output" NO-LINK
}

@test "capabilities: CapInh is 0; a non-root user has none permitted or effective" {
    need_run
    run_tool ctr-run --rm --network none busybox grep ^Cap /proc/self/status
    assert_match "$output" 'CapInh:[[:space:]]+0000000000000000'
    assert_match "$output" 'CapEff:[[:space:]]+00000000a80425fb'
    run_tool ctr-run --rm --network none -u 1000 busybox grep ^Cap /proc/self/status
    assert_match "$output" 'CapInh:[[:space:]]+0000000000000000'
    assert_match "$output" 'CapPrm:[[:space:]]+0000000000000000'
    assert_match "$output" 'CapEff:[[:space:]]+0000000000000000'
}

@test "from a real terminal, a container without -t cannot open /dev/tty or the console" {
    need_run
    require_cmd tmux
    local sock=$TEST_DIR/tmux.sock out=$TEST_DIR/tty.out
    rm -f "$out"
    # stdin stays the terminal (-i); only the output goes to a file
    tmux -S "$sock" new-session -d -x 100 -y 20 \
        "ctr-run -i --rm --network none --name ttyless busybox sh -c '(: </dev/tty) && echo TTY-OPEN; (: </dev/console) && echo CONSOLE-OPEN; [ -t 0 ] && echo STDIN-IS-A-TTY; hostname' >$out 2>&1; touch $out.done"
    wait_for test -f "$out.done"
    tmux -S "$sock" kill-server 2>/dev/null || true
    cat "$out"
    assert_contains "$(cat "$out")" ttyless
    # (a proof that the test ran on a terminal)
    assert_contains "$(cat "$out")" STDIN-IS-A-TTY
    [[ "$(cat "$out")" != *TTY-OPEN* ]]
    [[ "$(cat "$out")" != *CONSOLE-OPEN* ]]
    no_leftovers ttyless
}

@test "an image Env entry without '=' never takes the caller's value" {
    need_run
    hostile_image
    SECRET=from-the-host run_tool ctr-run --rm --network none hostile env
    [[ "$output" != *from-the-host* ]]
    assert_contains "$output" "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
    # -e SECRET (a flag, not the image) still passes it on, as in Docker
    SECRET=given run_tool ctr-run --rm --network none -e SECRET hostile env
    assert_contains "$output" SECRET=given
}
