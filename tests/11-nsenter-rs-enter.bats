#!/usr/bin/env bats
# nsenter-rs enter mode: a drop-in for util-linux nsenter, plus --container, --caps=target,
# --debug and --dry-run --json.

load helpers

setup_file() {
    ctrkit_setup_file
    make_busybox_rootfs "$TEST_DIR/rootfs"
    export R="$TEST_DIR/rootfs"
}

teardown() {
    kill_tracked
    rm -rf "$CTRKIT_STATE"/containers/*
}

# start_container NAME : a ctrkit-style container (state folder with its pid), CPID set
start_container() {
    local dir="$CTRKIT_STATE/containers/$1"
    mkdir -p "$dir"
    nsenter-rs --new=pid,mnt,uts,ipc,net,cgroup --rootfs "$R" --hostname "$1" \
        --pidfile "$dir/pid" --init -- sleep 300 3>&- &
    track_pid $!
    local i=0
    while [ ! -s "$dir/pid" ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "container $1 did not start" >&2; return 1; }
        sleep 0.05
    done
    CPID=$(cat "$dir/pid")
    # until the command runs (its hostname is set by then)
    i=0
    while [ "$(nsenter -t "$CPID" -u hostname 2>/dev/null)" != "$1" ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "container $1 did not run" >&2; return 1; }
        sleep 0.05
    done
}

stop_container() {
    kill_tracked
    rm -rf "$CTRKIT_STATE/containers/$1"
}

# the namespace ids a command sees, one per line (busybox readlink takes one file)
NS_IDS='for f in /proc/self/ns/*; do readlink "$f"; done'

@test "nsenter-rs -t PID -a and util-linux nsenter -t PID -a see the same namespace ids" {
    require_root
    start_container c-same
    run_tool nsenter -t "$CPID" -a sh -c "$NS_IDS"
    want=$output
    run_tool nsenter-rs -t "$CPID" -a sh -c "$NS_IDS"
    assert_eq "$output" "$want"
    # and they are the container's, not ours
    assert_contains "$output" "$(readlink "/proc/$CPID/ns/net")"
    [[ "$output" != *"$(readlink /proc/self/ns/net)"* ]]
    # long options and a single namespace, as nsenter takes them
    run_tool nsenter-rs --target "$CPID" --uts --net hostname
    assert_eq "$output" "c-same"
    run_tool nsenter-rs --target "$CPID" --uts --net readlink /proc/self/ns/net
    assert_eq "$output" "$(readlink "/proc/$CPID/ns/net")"
    stop_container c-same
}

@test "entering a pid namespace forks: the command is inside it; -r/-w take the target's root and cwd" {
    require_root
    start_container c-pid
    run_tool nsenter-rs -t "$CPID" -p -m -r -w sh -c 'echo $$; ps -o pid,comm | sed 1d | wc -l'
    # pid 1 is the init, pid 2 the sleep: our shell is a later pid of the container
    [ "$(printf '%s\n' "$output" | head -1)" -gt 2 ]
    # -F: no fork, so the shell itself stays outside the pid namespace
    run_tool nsenter-rs -t "$CPID" -p -F readlink /proc/self/ns/pid
    assert_eq "$output" "$(readlink /proc/self/ns/pid)"
    # FILE forms
    run_tool nsenter-rs --uts="/proc/$CPID/ns/uts" hostname
    assert_eq "$output" "c-pid"
    stop_container c-pid
}

@test "--container NAME finds a ctrkit container by its state folder" {
    require_root
    start_container c-named
    run_tool nsenter-rs --container c-named -a hostname
    assert_eq "$output" "c-named"
    run_tool nsenter-rs --container c-named -n readlink /proc/self/ns/net
    assert_eq "$output" "$(readlink "/proc/$CPID/ns/net")"
    stop_container c-named
    run_tool --rc 125 nsenter-rs --container c-named -a true
    assert_error nsenter-rs "c-named"
}

@test "--container NAME with no namespace option enters them all (docker exec); -t PID alone enters none" {
    require_root
    start_container c-all
    run_tool nsenter-rs --container c-all sh -c 'hostname; echo $$; readlink /proc/self/ns/mnt'
    assert_eq "$(printf '%s\n' "$output" | sed -n 1p)" "c-all"
    # a pid of the container's pid namespace (its init is 1, sleep 2)
    [ "$(printf '%s\n' "$output" | sed -n 2p)" -lt 10 ]
    assert_eq "$(printf '%s\n' "$output" | sed -n 3p)" "$(readlink "/proc/$CPID/ns/mnt")"
    # util-linux's meaning stays for -t: no namespace option, no namespace entered
    run_tool nsenter-rs -t "$CPID" hostname
    assert_eq "$output" "$(hostname)"
    stop_container c-all
}

# enter_by_id ID : the host name (UTS) and the net namespace link that nsenter-rs
# --container sees, by the full ID and by a 14-character prefix, in $got_host and $got_net;
# got_rc=1 if either failed (the caller asserts after removing its container)
enter_by_id() {
    got_rc=0
    run_tool nsenter-rs --container "$1" -u hostname || got_rc=1
    got_host=$output
    run_tool nsenter-rs --container "${1:0:14}" -n readlink /proc/self/ns/net || got_rc=1
    got_net=$output
}

@test "--container ID finds a runc container" {
    require_root
    require_cmd runc jq
    bundle="$TEST_DIR/bundle"
    mkdir -p "$bundle"
    cp -a "$R" "$bundle/rootfs"
    id="nsrs-test-$$-$RANDOM"
    (cd "$bundle" && runc spec)
    jq --arg cg "/$TEST_CGROUP/$id" '.process.terminal = false | .process.args = ["sleep", "300"]
        | .linux.cgroupsPath = $cg | .hostname = "runc-ctr"' "$bundle/config.json" >"$bundle/c.json"
    mv "$bundle/c.json" "$bundle/config.json"
    runc run -d --bundle "$bundle" --pid-file "$TEST_DIR/runc.pid" "$id" </dev/null >/dev/null 2>"$TEST_DIR/runc.err" 3>&- || {
        cat "$TEST_DIR/runc.err" >&2
        return 1
    }
    rpid=$(cat "$TEST_DIR/runc.pid")
    want_net=$(readlink "/proc/$rpid/ns/net")
    enter_by_id "$id"
    runc kill "$id" KILL 2>/dev/null || true
    for _ in $(seq 50); do [ -d "/proc/$rpid" ] || break; sleep 0.05; done
    runc delete -f "$id" 2>/dev/null || true
    rm -rf "$bundle"
    [ "$got_rc" = 0 ]
    assert_eq "$got_host" "runc-ctr"
    assert_eq "$got_net" "$want_net"
}

@test "--container ID finds a crun container" {
    require_root
    require_cmd crun jq
    bundle="$TEST_DIR/crun-bundle"
    mkdir -p "$bundle"
    cp -a "$R" "$bundle/rootfs"
    id="nsrs-crun-$$-$RANDOM"
    (cd "$bundle" && crun spec)
    jq '.process.terminal = false | .process.args = ["sleep", "300"] | .hostname = "crun-ctr"' \
        "$bundle/config.json" >"$bundle/c.json"
    mv "$bundle/c.json" "$bundle/config.json"
    # crun 1.8 refuses the hybrid cgroup layout: start it in a private mount namespace where
    # a tmpfs hides /sys/fs/cgroup/unified, without cgroups
    unshare -m --propagation private sh -c 'mount -t tmpfs -o size=4k,ro hide /sys/fs/cgroup/unified &&
        exec crun --cgroup-manager=disabled run -d --bundle "$1" --pid-file "$2" "$3"' \
        sh "$bundle" "$TEST_DIR/crun.pid" "$id" </dev/null >/dev/null 2>"$TEST_DIR/crun.err" 3>&- || {
        cat "$TEST_DIR/crun.err" >&2
        return 1
    }
    cpid=$(cat "$TEST_DIR/crun.pid")
    want_net=$(readlink "/proc/$cpid/ns/net")
    enter_by_id "$id"
    crun --cgroup-manager=disabled kill "$id" KILL 2>/dev/null || true
    for _ in $(seq 50); do [ -d "/proc/$cpid" ] || break; sleep 0.05; done
    crun --cgroup-manager=disabled delete -f "$id" 2>/dev/null || true
    rm -rf "$bundle"
    [ "$got_rc" = 0 ]
    assert_eq "$got_host" "crun-ctr"
    assert_eq "$got_net" "$want_net"
}

@test "--caps=target: the command gets the target's capability sets and no_new_privs" {
    require_root
    start_container c-caps
    run_tool nsenter-rs -t "$CPID" -a --caps=target cat /proc/self/status
    assert_eq "$(printf '%s\n' "$output" | awk '$1 == "CapEff:" {print $2}')" "00000000a80425fb"
    assert_eq "$(printf '%s\n' "$output" | awk '$1 == "CapBnd:" {print $2}')" "00000000a80425fb"
    assert_eq "$(printf '%s\n' "$output" | awk '$1 == "NoNewPrivs:" {print $2}')" "1"
    # as another user (what ctr-exec --user does): the bounding set is the target's, and a
    # non-root command has no effective capabilities, as in the container itself
    run_tool nsenter-rs -t "$CPID" -a --caps=target -S 1000 -G 1000 cat /proc/self/status
    assert_eq "$(printf '%s\n' "$output" | awk '$1 == "Uid:" {print $2}')" "1000"
    assert_eq "$(printf '%s\n' "$output" | awk '$1 == "CapBnd:" {print $2}')" "00000000a80425fb"
    assert_eq "$(printf '%s\n' "$output" | awk '$1 == "CapEff:" {print $2}')" "0000000000000000"
    # without it, nsenter's behaviour: our own (full) set
    run_tool nsenter-rs -t "$CPID" -a cat /proc/self/status
    assert_eq "$(printf '%s\n' "$output" | awk '$1 == "CapBnd:" {print $2}')" "$(awk '$1 == "CapBnd:" {print $2}' /proc/self/status)"
    stop_container c-caps
}

@test "--debug: host tools see the container's processes, its root is at /target" {
    require_root
    start_container c-debug
    ls -d /target 2>/dev/null && had_target=1 || had_target=0
    run_tool nsenter-rs -t "$CPID" --debug sh -c 'ps -o pid=,comm= | head -2; hostname; readlink /proc/self/ns/net; ls /target/bin/busybox'
    assert_eq "$(printf '%s\n' "$output" | head -2 | awk '{print $1" "$2}' | tr '\n' ' ')" "1 nsenter-rs 2 sleep "
    assert_contains "$output" "c-debug"
    assert_contains "$output" "$(readlink "/proc/$CPID/ns/net")"
    assert_contains "$output" "/target/bin/busybox"
    # the host's mounts are untouched and /target is gone again
    [ "$had_target" = 1 ] || [ ! -e /target ]
    stop_container c-debug
}

@test "--debug: /target is a mount of the container's whole tree, private to the session; the host never has it" {
    require_root
    [ ! -e /target ] || skip "this host has a /target of its own"
    start_container c-dbgmnt
    # a mount made inside the container after it started: part of its tree
    nsenter -t "$CPID" -m sh -c 'mount -t tmpfs t /tmp && echo inner >/tmp/mark'
    nsenter-rs -t "$CPID" --debug sh -c 'cat /target/tmp/mark; grep -c " /target " /proc/self/mountinfo; ls / >"$1"/root-list; exec sleep 300' sh "$TEST_DIR" >"$TEST_DIR/dbg.out" 3>&- &
    local session=$!
    track_pid "$session"
    wait_for_file "$TEST_DIR/root-list"
    # during the session: the host has no /target, and its mounts do not know the session's
    [ ! -e /target ]
    ! grep -q " /target " /proc/self/mountinfo
    assert_eq "$(sed -n 1p "$TEST_DIR/dbg.out")" "inner"
    [ "$(sed -n 2p "$TEST_DIR/dbg.out")" -ge 1 ]
    # the session's / still shows the host's entries
    for e in $(ls /); do grep -qx "$e" "$TEST_DIR/root-list"; done
    # SIGKILLed: nothing is left
    kill -KILL "$session"
    wait "$session" 2>/dev/null || true
    [ ! -e /target ]
    stop_container c-dbgmnt
}

@test "--debug --target-dir DIR: the root is mounted on DIR for the session only; bad DIRs are refused" {
    require_root
    start_container c-dbgdir
    mkdir "$TEST_DIR/tgt"
    run_tool nsenter-rs -t "$CPID" --debug --target-dir "$TEST_DIR/tgt" sh -c "ls $TEST_DIR/tgt/bin/busybox; hostname"
    assert_eq "$output" "$TEST_DIR/tgt/bin/busybox"$'\n'"c-dbgdir"
    [ -z "$(ls -A "$TEST_DIR/tgt")" ]
    ! mountpoint -q "$TEST_DIR/tgt"
    run_tool --rc 2 nsenter-rs -t "$CPID" --debug --target-dir tgt true
    assert_error nsenter-rs "tgt"
    run_tool --rc 125 nsenter-rs -t "$CPID" --debug --target-dir "$TEST_DIR/missing" true
    assert_error nsenter-rs "$TEST_DIR/missing"
    [ ! -e "$TEST_DIR/missing" ]
    : >"$TEST_DIR/file"
    run_tool --rc 2 nsenter-rs -t "$CPID" --debug --target-dir "$TEST_DIR/file" true
    assert_error nsenter-rs "not a folder"
    run_tool --rc 2 nsenter-rs -t "$CPID" --target-dir "$TEST_DIR/tgt" true
    assert_error nsenter-rs "--debug"
    stop_container c-dbgdir
}

@test "--debug --env: the container's PATH and LD_PRELOAD do not reach the host's tools" {
    require_root
    local dir="$CTRKIT_STATE/containers/c-dbgenv"
    mkdir -p "$dir"
    nsenter-rs --new=pid,mnt,uts,ipc,net --rootfs "$R" --hostname c-dbgenv --pidfile "$dir/pid" \
        --env PATH=/bin:/evil --env LD_PRELOAD=/evil.so --env KEEP=me -- sleep 300 3>&- &
    track_pid $!
    wait_for_file "$dir/pid"
    run_tool nsenter-rs -t "$(cat "$dir/pid")" --debug --env -- sh -c 'echo "P=$PATH L=${LD_PRELOAD-unset} K=$KEEP"'
    assert_eq "$output" "P=$PATH L=unset K=me"
    stop_container c-dbgenv
}

@test "--new-session: the command has no controlling terminal; descriptors are closed" {
    require_root
    start_container c-sess
    run_tool nsenter-rs -t "$CPID" -a --new-session sh -c 'cut -d" " -f7 /proc/self/stat; ls /proc/self/fd' 6</dev/null
    assert_eq "$(printf '%s\n' "$output" | tr '\n' ' ')" "0 0 1 2 3 "
    stop_container c-sess
}

@test "--dry-run --json lists the namespaces to join with their ids, and joins nothing" {
    require_root
    start_container c-dry
    run_tool nsenter-rs -t "$CPID" -a --dry-run --json
    assert_json '.target' "$CPID"
    assert_json '.namespaces[] | select(.type == "net") | .id' "$(readlink "/proc/$CPID/ns/net")"
    assert_json '.namespaces[] | select(.type == "net") | .join' "true"
    assert_json '.namespaces[] | select(.type == "user") | .join' "false"
    assert_json '[.namespaces[].type] | join(",")' "user,cgroup,ipc,uts,net,pid,time,mnt"
    run_tool nsenter-rs -t "$CPID" -a --dry-run
    assert_contains "$output" "net:[$(stat -L -c %i "/proc/$CPID/ns/net")]"
    stop_container c-dry
}

@test "-c joins the target's cgroups" {
    require_root
    cg="$TEST_CGROUP/nsrs-target"
    mkdir -p "/sys/fs/cgroup/pids/$cg"
    sleep 300 3>&- &
    p=$!
    track_pid "$p"
    echo "$p" >"/sys/fs/cgroup/pids/$cg/cgroup.procs"
    run_tool nsenter-rs -t "$p" -c -u cat /proc/self/cgroup
    out=$output
    kill_tracked
    rmdir "/sys/fs/cgroup/pids/$cg"
    assert_match "$out" ":pids:/$cg"
}

@test "-e takes the target's environment; -S/-G set the ids" {
    require_root
    sh -c 'exec env NSRS_MARK=from-target sleep 300' 3>&- &
    p=$!
    track_pid "$p"
    for _ in $(seq 100); do grep -q NSRS_MARK "/proc/$p/environ" 2>/dev/null && break; sleep 0.05; done
    run_tool nsenter-rs -t "$p" -u -e sh -c 'echo $NSRS_MARK'
    assert_eq "$output" "from-target"
    run_tool nsenter-rs -t "$p" -u -S 65534 -G 65534 id -u
    assert_eq "$output" "65534"
    kill_tracked
}

@test "the exit status is the command's; SIGTERM is forwarded across the pid fork" {
    require_root
    start_container c-exit
    run_tool --rc 3 nsenter-rs -t "$CPID" -a sh -c 'exit 3'
    run_tool --rc 127 nsenter-rs -t "$CPID" -a no-such-command
    assert_error nsenter-rs "no-such-command"
    stop_container c-exit
}
