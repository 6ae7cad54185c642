#!/usr/bin/env bats
# nsenter-rs --seccomp: Docker's default filter in create mode, custom profiles, unconfined.
# Each effect is seen from outside the filter: the kernel's Seccomp field in /proc, a call
# the kernel refused, a directory that was not created on the host.

load helpers

setup_file() {
    ctrkit_setup_file
    make_busybox_rootfs "$TEST_DIR/rootfs"
    export R="$TEST_DIR/rootfs"
}

teardown() {
    ctrkit_teardown
    rm -rf "$R/root/made" "$R/root/touched" "$TEST_DIR/pins" "$TEST_DIR/c.pid"
}

# field NAME : the value of NAME (Seccomp, NoNewPrivs...) in a /proc status text in $output
field() {
    printf '%s\n' "$output" | awk -v f="$1:" '$1 == f {print $2}'
}

# start_container : a `sleep 300` in a busybox container (default filter); its host pid in $C
start_container() {
    rm -f "$TEST_DIR/c.pid"
    nsenter-rs --new=pid,mnt,uts,ipc,net --rootfs "$R" --pidfile "$TEST_DIR/c.pid" \
        -- sleep 300 3>&- &
    track_pid $!
    wait_for_file "$TEST_DIR/c.pid"
    C=$(cat "$TEST_DIR/c.pid")
}

@test "default: the container's process is in seccomp filter mode, seen from the host" {
    require_root
    start_container
    run cat "/proc/$C/status"
    assert_eq "$(field State)" S
    assert_eq "$(field Seccomp)" 2
    assert_eq "$(field NoNewPrivs)" 1
    # and from inside
    run_tool nsenter-rs --new=pid,mnt,uts,ipc,net --rootfs "$R" -- cat /proc/self/status
    assert_eq "$(field Seccomp)" 2
}

@test "default: unshare -U is refused without CAP_SYS_ADMIN, allowed with it (as in Docker)" {
    require_root
    run_tool --rc 1 nsenter-rs --new=pid,mnt,uts,ipc,net --rootfs "$R" -- unshare -U true
    assert_contains "$stderr" "Operation not permitted"
    # clone(CLONE_NEWUSER) too, and setns/mount stay refused
    run_tool --rc 1 nsenter-rs --new=pid,mnt,uts,ipc,net --rootfs "$R" -- unshare -U -f true
    # with CAP_SYS_ADMIN the profile lets it through: a new user namespace really is made
    run_tool nsenter-rs --new=pid,mnt,uts,ipc,net --rootfs "$R" --cap-add SYS_ADMIN -- \
        sh -c 'readlink /proc/self/ns/user; unshare -U readlink /proc/self/ns/user'
    local outer inner
    outer=$(printf '%s\n' "$output" | sed -n 1p)
    inner=$(printf '%s\n' "$output" | sed -n 2p)
    assert_match "$inner" '^user:\[[0-9]+\]$'
    [ "$outer" != "$inner" ]
}

@test "default: ordinary work goes on (fork, pipes, files, sockets)" {
    require_root
    run_tool nsenter-rs --new=pid,mnt,uts,ipc,net --rootfs "$R" --loopback -- \
        sh -c 'echo hello | cat; mkdir /root/made && echo made; ls /root; nc -l -p 1234 -w 1 </dev/null & sleep 0.2; echo x | nc -w 1 127.0.0.1 1234; wait; echo done'
    assert_contains "$output" "hello"
    assert_contains "$output" "made"
    assert_contains "$output" "done"
    [ -d "$R/root/made" ]
}

@test "create mode without --rootfs is filtered too" {
    require_root
    run_tool nsenter-rs --new=pid,mnt --mount-proc -- cat /proc/self/status
    assert_eq "$(field Seccomp)" 2
}

@test "--seccomp unconfined and --privileged: no filter; --privileged --seccomp default: filter" {
    require_root
    run_tool nsenter-rs --new=pid,mnt,uts,ipc,net --rootfs "$R" --seccomp unconfined -- \
        sh -c 'grep Seccomp: /proc/self/status; unshare -U true && echo unshared'
    assert_eq "$(field Seccomp)" 0
    assert_contains "$output" unshared
    run_tool nsenter-rs --new=pid,mnt,uts,ipc,net --rootfs "$R" --privileged -- cat /proc/self/status
    assert_eq "$(field Seccomp)" 0
    run_tool nsenter-rs --new=pid,mnt,uts,ipc,net --rootfs "$R" --privileged --seccomp default -- \
        cat /proc/self/status
    assert_eq "$(field Seccomp)" 2
}

@test "a Docker-format profile that denies mkdir: mkdir fails, nothing is made, the rest works" {
    require_root
    cat >"$TEST_DIR/no-mkdir.json" <<'EOF'
{
    "defaultAction": "SCMP_ACT_ALLOW",
    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
    "syscalls": [
        {"names": ["mkdir", "mkdirat", "no_such_syscall"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "comment": "deny mkdir"}
    ]
}
EOF
    run_tool --rc 1 nsenter-rs --new=pid,mnt,uts,ipc,net --rootfs "$R" \
        --seccomp "$TEST_DIR/no-mkdir.json" -- mkdir /root/made
    assert_contains "$stderr" "Operation not permitted"
    [ ! -e "$R/root/made" ]
    run_tool nsenter-rs --new=pid,mnt,uts,ipc,net --rootfs "$R" \
        --seccomp "$TEST_DIR/no-mkdir.json" -- sh -c 'touch /root/touched && ls /root && unshare -U true && echo unshared'
    [ -f "$R/root/touched" ]
    # allow-by-default: unshare is not denied by this profile
    assert_contains "$output" unshared
}

@test "an OCI linux.seccomp object: its errnoRet is what the call returns" {
    require_root
    cat >"$TEST_DIR/oci.json" <<'EOF'
{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
EOF
    run_tool --rc 1 nsenter-rs --new=pid,mnt --rootfs "$R" --seccomp "$TEST_DIR/oci.json" -- mkdir /root/made
    assert_contains "$stderr" "Permission denied"
    [ ! -e "$R/root/made" ]
}

@test "a malformed profile: exit 125, one line naming the file and the field, nothing left" {
    require_root
    printf '%s\n' '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOPE"}]}' \
        >"$TEST_DIR/bad.json"
    run_tool --rc 125 nsenter-rs --new=pid,mnt,net --rootfs "$R" --pin "$TEST_DIR/pins" \
        --pidfile "$TEST_DIR/c.pid" --seccomp "$TEST_DIR/bad.json" -- true
    assert_error nsenter-rs "seccomp profile $TEST_DIR/bad.json: syscalls[0].action: unknown action 'SCMP_ACT_NOPE'"
    [ ! -e "$TEST_DIR/pins" ]
    [ ! -e "$TEST_DIR/c.pid" ]
    printf '{"defaultAction": ' >"$TEST_DIR/bad.json"
    run_tool --rc 125 nsenter-rs --new=pid,mnt --rootfs "$R" --seccomp "$TEST_DIR/bad.json" -- true
    assert_error nsenter-rs "seccomp profile $TEST_DIR/bad.json: not valid JSON"
    run_tool --rc 125 nsenter-rs --new=pid,mnt --rootfs "$R" --seccomp "$TEST_DIR/missing.json" -- true
    assert_error nsenter-rs "cannot read seccomp profile $TEST_DIR/missing.json"
}

@test "--init: the built-in pid 1 is filtered too" {
    require_root
    run_tool nsenter-rs --new=pid,mnt --rootfs "$R" --init -- cat /proc/1/status
    assert_eq "$(field Name)" nsenter-rs
    assert_eq "$(field Seccomp)" 2
}

@test "--allow-new-privs: the filter is loaded before capabilities are dropped" {
    require_root
    run_tool nsenter-rs --new=pid,mnt --rootfs "$R" --allow-new-privs --user 1000 -- cat /proc/self/status
    assert_eq "$(field NoNewPrivs)" 0
    assert_eq "$(field Seccomp)" 2
    run_tool --rc 1 nsenter-rs --new=pid,mnt --rootfs "$R" --allow-new-privs -- unshare -U true
}

@test "enter mode: no filter unless --seccomp; with it, the target's capabilities decide" {
    require_root
    start_container
    run_tool nsenter-rs -t "$C" -a --caps=target -- cat /proc/self/status
    assert_eq "$(field Seccomp)" 0
    run_tool nsenter-rs -t "$C" -a --caps=target --seccomp default -- cat /proc/self/status
    assert_eq "$(field Seccomp)" 2
    run_tool --rc 1 nsenter-rs -t "$C" -a --caps=target --seccomp default -- unshare -U true
    assert_contains "$stderr" "Operation not permitted"
}

@test "enter mode, a target without no_new_privs: the filter is loaded before caps are dropped" {
    require_root
    rm -f "$TEST_DIR/c.pid"
    nsenter-rs --new=pid,mnt,uts,ipc,net --rootfs "$R" --allow-new-privs --pidfile "$TEST_DIR/c.pid" \
        -- sleep 300 3>&- &
    track_pid $!
    wait_for_file "$TEST_DIR/c.pid"
    C=$(cat "$TEST_DIR/c.pid")
    run_tool nsenter-rs -t "$C" -a --caps=target --seccomp default -- cat /proc/self/status
    assert_eq "$(field NoNewPrivs)" 0
    assert_eq "$(field Seccomp)" 2
    assert_eq "$(field CapEff)" 00000000a80425fb
    # a switch to another user: loaded before it, while CAP_SYS_ADMIN is still there
    run_tool nsenter-rs -t "$C" -a --caps=target -S 1000 --seccomp default -- cat /proc/self/status
    assert_eq "$(field Seccomp)" 2
    # --debug mounts /proc with the filter not yet loaded
    run_tool nsenter-rs -t "$C" --debug --caps=target --seccomp default -- cat /proc/self/status
    assert_eq "$(field Seccomp)" 2
}
