#!/usr/bin/env bats
# Faults: ctr-run killed with SIGKILL during setup, then ctr-rm -f; a step that fails makes
# ctr-run exit 125 with one line and undo the steps before it.

load helpers
load 60-ctr-helpers

setup_file() { ctr_setup_file; }
teardown_file() { ctr_teardown_file; }
teardown() { ctr_teardown; }
setup() { ctr_setup_host; }

# undo_lines NAME WORD : how many lines of the container's undo log start with WORD
undo_lines() {
    grep -c "^$2" "$CTRKIT_STATE/containers/$1/undo" 2>/dev/null || echo 0
}

# kill_at NAME POINT : start ctr-run in the test host, SIGKILL it at POINT, then ctr-rm -f
kill_at() {
    local name=$1 point=$2 pid i=0
    nsenter -t "$TEST_HOST_PID" -n -m ctr-run --name "$name" --cpus 0.5 -p 8088:80 busybox sleep 4245 >/dev/null 2>&1 3>&- &
    pid=$!
    track_pid "$pid"
    while :; do
        case $point in
            pending:*) [ "$(undo_lines "$name" pending)" -ge "${point#*:}" ] && break ;;
            ok:*) [ "$(undo_lines "$name" ok)" -ge "${point#*:}" ] && break ;;
            exists:*) [ -e "$CTRKIT_STATE/containers/$name/${point#*:}" ] && break ;;
            running) [ -s "$CTRKIT_STATE/containers/$name/pid" ] && break ;;
        esac
        kill -0 "$pid" 2>/dev/null || { echo "ctr-run ended before $point" >&2; return 1; }
        i=$((i + 1))
        [ $i -lt 4000 ] || { echo "never reached $point" >&2; return 1; }
        sleep 0.005
    done
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    run_host ctr-rm -f "$name"
    no_leftovers "$name" host
    host_clean
    ! pgrep -x -f 'sleep 4245' >/dev/null
}

@test "SIGKILL during the mount, after the cgroup, during the namespace pin, during attach, while running: ctr-rm -f leaves nothing" {
    need_net
    kill_at k1 pending:1
    kill_at k2 ok:2
    kill_at k3 pending:3
    # the namespace is pinned: the network is being attached (same undo entry)
    kill_at k4 exists:ns/net
    kill_at k5 running
}

@test "a bad image name: exit 125, one line, nothing made" {
    need_run
    # (--pull never: the default would ask docker.io, and tests stay off the internet)
    run_tool --rc 125 ctr-run --rm --network none --pull never --name badimg no-such-image true
    assert_error ctr-run "image no-such-image"
    no_leftovers badimg
}

@test "a state folder that cannot be locked: exit 125, one line, the claimed folder removed" {
    need_run
    # a ctr-state whose lock fails (as when the descriptor cannot be locked); claim and rm
    # are the real ones
    mkdir -p "$TEST_DIR/shim"
    printf '#!/bin/sh\ncase $1 in lock) echo "ctr-state: error: cannot lock file descriptor 9" >&2; exit 1 ;; esac\nexec "%s/ctr-state" "$@"\n' \
        "$CTRKIT_BIN" >"$TEST_DIR/shim/ctr-state"
    chmod +x "$TEST_DIR/shim/ctr-state"
    PATH=$TEST_DIR/shim:$PATH run_tool --rc 125 ctr-run --rm --network none --name nolock busybox true
    assert_error ctr-run "cannot lock the state folder $CTRKIT_STATE/containers/nolock"
    [ ! -e "$CTRKIT_STATE/containers/nolock" ]
    no_leftovers nolock
}

@test "a cgroup limit the kernel refuses: exit 125, one line, the mount undone" {
    need_run
    run_tool --rc 125 ctr-run --rm --network none --name badcpu --cpuset-cpus 63 busybox true
    assert_error ctr-run "cgroup"
    no_leftovers badcpu
    # the container layer went with it: the name can be used again at once
    run_tool ctr-run --rm --network none --name badcpu busybox true
}

@test "an address or a port already taken: exit 125, one line, everything undone" {
    need_net
    run_host ctr-run -d --name holder --ip 10.47.0.50 -p 8089:80 busybox sleep 4246
    run_host --rc 125 ctr-run --rm --name taker --ip 10.47.0.50 busybox true
    assert_error ctr-run "network"
    no_leftovers taker host
    run_host --rc 125 ctr-run --rm --name taker2 -p 8089:80 busybox true
    assert_error ctr-run "network"
    no_leftovers taker2 host
    host_veths 1
    run_host ctr-rm -f holder
    host_clean
}
