#!/usr/bin/env bats
# nsenter-rs bad input: one line naming what is wrong, the right exit code, nothing left.

load helpers

setup_file() {
    ctrkit_setup_file
    make_busybox_rootfs "$TEST_DIR/rootfs"
    export R="$TEST_DIR/rootfs"
}

# snapshot of what a failed run could leave here: mounts under this file's folder or on
# the rootfs (processes: the leak check in run.sh)
leftovers() {
    awk -v d="$TEST_DIR" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort
}

setup() {
    ctrkit_setup
    BEFORE=$(leftovers)
}

# nothing_left : no new mount or process since setup, no pin folder
nothing_left() {
    local now
    now=$(leftovers)
    if [ "$now" != "$BEFORE" ]; then
        diff <(echo "$BEFORE") <(echo "$now") >&2
        return 1
    fi
    [ ! -e "$TEST_DIR/pins" ] || { echo "pin folder left: $(ls "$TEST_DIR/pins")" >&2; return 1; }
}

@test "unknown namespace type: usage error naming it" {
    run_tool --rc 2 nsenter-rs --new=pid,bogus -- true
    assert_error nsenter-rs "unknown namespace type 'bogus'"
    run_tool --rc 2 nsenter-rs --new=net --join tape=/x -- true
    assert_error nsenter-rs "tape"
    nothing_left
}

@test "missing target pid: usage error" {
    run_tool --rc 2 nsenter-rs -a true
    assert_error nsenter-rs "no target process"
    run_tool --rc 2 nsenter-rs -t notapid -a true
    assert_error nsenter-rs "notapid"
    nothing_left
}

@test "a pid that exited: exit 125 naming the pid" {
    require_root
    sh -c 'exit 0' &
    gone=$!
    wait "$gone"
    run_tool --rc 125 nsenter-rs -t "$gone" -a true
    assert_error nsenter-rs "process $gone not found"
    run_tool --rc 125 nsenter-rs -t "$gone" --net true
    assert_error nsenter-rs "process $gone not found"
    nothing_left
}

@test "a namespace file that is not a namespace: exit 125 naming the file" {
    require_root
    run_tool --rc 125 nsenter-rs --net=/etc/hostname true
    assert_error nsenter-rs "/etc/hostname"
    run_tool --rc 125 nsenter-rs --net=/no/such/file true
    assert_error nsenter-rs "/no/such/file"
    nothing_left
}

@test "a rootfs that is not a directory, or missing: exit 125, nothing pinned or mounted" {
    require_root
    run_tool --rc 125 nsenter-rs --new=pid,mnt,net --pin "$TEST_DIR/pins" --rootfs /etc/hostname -- true
    assert_error nsenter-rs "rootfs /etc/hostname is not a directory"
    run_tool --rc 125 nsenter-rs --new=pid,mnt --rootfs "$TEST_DIR/nope" -- true
    assert_error nsenter-rs "rootfs $TEST_DIR/nope"
    nothing_left
}

@test "a rootfs lacking the command: exit 127 from the child, pins undone" {
    require_root
    run_tool --rc 127 nsenter-rs --new=pid,mnt,net --pin "$TEST_DIR/pins" --rootfs "$R" -- /usr/bin/no-such-cmd
    assert_error nsenter-rs "command '/usr/bin/no-such-cmd' not found in rootfs $R"
    run_tool --rc 127 nsenter-rs --new=pid,mnt --rootfs "$R" --pidfile "$TEST_DIR/nf.pid" -- bash
    assert_error nsenter-rs "command 'bash' not found"
    # the pidfile is written only once the command runs
    [ ! -e "$TEST_DIR/nf.pid" ]
    run_tool --rc 126 nsenter-rs --new=pid,mnt --rootfs "$R" -- /etc/passwd
    assert_error nsenter-rs "/etc/passwd"
    nothing_left
}

@test "a bad map: usage error for the syntax, exit 125 when the kernel refuses it" {
    require_root
    run_tool --rc 2 nsenter-rs --new=user --uid-map 0:1000 -- true
    assert_error nsenter-rs "'0:1000' is not INSIDE:OUTSIDE:COUNT"
    run_tool --rc 2 nsenter-rs --new=user --uid-map 0:1000:0 -- true
    assert_error nsenter-rs "zero count"
    # overlapping ranges inside: the kernel says no
    run_tool --rc 125 nsenter-rs --new=user,net --pin "$TEST_DIR/pins" --uid-map 0:100000:10 --uid-map 5:200000:10 \
        --gid-map 0:100000:10 -- true
    assert_error nsenter-rs "uid_map"
    nothing_left
}

@test "an unknown capability: usage error naming it" {
    run_tool --rc 2 nsenter-rs --new=pid --cap-add CAP_FLY -- true
    assert_error nsenter-rs "unknown capability 'CAP_FLY'"
    run_tool --rc 2 nsenter-rs --new=pid --cap-drop chown,nope -- true
    assert_error nsenter-rs "unknown capability 'nope'"
    nothing_left
}

@test "a sysctl that is not namespaced, or without its namespace: usage error" {
    run_tool --rc 2 nsenter-rs --new=net --sysctl kernel.pid_max=100000 -- true
    assert_error nsenter-rs "sysctl 'kernel.pid_max' is not namespaced"
    run_tool --rc 2 nsenter-rs --new=pid --sysctl net.ipv4.ip_forward=1 -- true
    assert_error nsenter-rs "needs a new or joined net namespace"
    nothing_left
}

@test "a setup failure in the child comes back as one line, exit 125, pins undone" {
    require_root
    # a cgroup that does not exist is refused before anything is made
    run_tool --rc 125 nsenter-rs --new=net --pin "$TEST_DIR/pins" --cgroup "$TEST_CGROUP/none-such" -- true
    assert_error nsenter-rs "none-such"
    # a working directory missing in the rootfs fails in the child
    run_tool --rc 125 nsenter-rs --new=pid,mnt,net --pin "$TEST_DIR/pins" --rootfs "$R" --workdir /no/dir -- true
    assert_error nsenter-rs "cannot change to working directory /no/dir"
    # a user unknown to the rootfs
    run_tool --rc 125 nsenter-rs --new=pid,mnt --rootfs "$R" --user ghost -- true
    assert_error nsenter-rs "user 'ghost' not found"
    nothing_left
}

@test "options of the wrong mode are usage errors" {
    run_tool --rc 2 nsenter-rs -t 1 --rootfs /tmp true
    assert_error nsenter-rs "--rootfs is a create-mode option"
    run_tool --rc 2 nsenter-rs --new=pid -t 1 -- true
    assert_error nsenter-rs "-t/--target is an enter-mode option"
    run_tool --rc 2 nsenter-rs --new=pid
    assert_error nsenter-rs "needs a command"
    run_tool --rc 2 nsenter-rs --new=net --join net=/proc/self/ns/net -- true
    assert_error nsenter-rs "both in --new and --join"
    nothing_left
}

@test "--unpin of a folder with nothing pinned: error naming it" {
    run_tool --rc 125 nsenter-rs --unpin "$TEST_DIR/never-pinned"
    assert_error nsenter-rs "$TEST_DIR/never-pinned"
    nothing_left
}

@test "--preserve-fds with a bad value: a usage error naming it" {
    run_tool --rc 2 nsenter-rs --new=pid,mnt --rootfs "$TEST_DIR" --preserve-fds -1 -- true
    assert_error nsenter-rs "'-1'"
    run_tool --rc 2 nsenter-rs --new=pid,mnt --rootfs "$TEST_DIR" --preserve-fds many -- true
    assert_error nsenter-rs "many"
}
