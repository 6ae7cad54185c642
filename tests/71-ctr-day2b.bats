#!/usr/bin/env bats
# Docker's day-2 habits, part two: ctr-stats (from cgroupfs and the container's network
# namespace), ctr-rename, ctr-boot after a simulated reboot, ctr-ls -s, and the error lines
# of the image scripts -- each observed from outside.

load helpers
load 60-ctr-helpers

setup_file() { ctr_setup_file; }
teardown_file() { ctr_teardown_file; }
teardown() { ctr_teardown; }
setup() { ctr_setup_host; }

# state_is NAME STATE : the container's status is STATE, as ctr-inspect tells it (for wait_for)
state_is() {
    [ "$(in_host ctr-inspect "$1" | jq -r .status)" = "$2" ]
}

# cg_dir CONTROLLER NAME : the container's cgroup folder for CONTROLLER (v1), or its one
# folder (cgroup v2, as in tests/vm/run-v2.sh)
cg_dir() {
    local cg
    cg=$(cat "$CTRKIT_STATE/containers/$2/cgroup")
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        echo "/sys/fs/cgroup/$cg"
    else
        echo "/sys/fs/cgroup/$1/$cg"
    fi
}

# cpu_usec NAME : the CPU time the container's cgroup has used, in microseconds
cpu_usec() {
    local d
    d=$(cg_dir cpuacct "$1")
    if [ -f "$d/cpu.stat" ] && [ ! -f "$d/cpuacct.usage" ]; then
        awk '$1 == "usage_usec" { print $2 }' "$d/cpu.stat"
    else
        echo $(($(cat "$d/cpuacct.usage") / 1000))
    fi
}

# stat NAME FIELD : one number of ctr-stats --no-stream --format json for NAME
stat() {
    in_host ctr-stats --no-stream --format json "$1" | jq -r ".$2"
}

# waiter NAME ARGS... : a detached busybox container that waits for /tmp/go, then runs
# the sh code in $GO, touches /tmp/done and sleeps (the shell stays, with what it holds)
waiter() {
    local name=$1
    shift
    run_host ctr-run -d --name "$name" "$@" busybox \
        sh -c "while [ ! -f /tmp/go ]; do sleep 0.05; done; $GO; touch /tmp/done; while :; do sleep 1; done"
    assert_eq "$output" "$name"
}

# go NAME : start the waiter's work and wait until it is done
go() {
    run_host ctr-exec "$1" touch /tmp/go
    wait_for in_host test -f "$CTRKIT_STATE/containers/$1/merged/tmp/done"
}

@test "ctr-stats --no-stream: Docker's columns, the -m limit, MEM USAGE growing as the container allocates" {
    need_run
    GO='x=$(head -c 20000000 /dev/zero | tr "\0" a)' waiter st-mem --network none -m 64M
    run_host ctr-stats --no-stream st-mem
    assert_match "$(printf '%s\n' "$output" | sed -n 1p)" \
        "^CONTAINER ID +NAME +CPU % +MEM USAGE / LIMIT +MEM % +NET I/O +BLOCK I/O +PIDS$"
    id=$(cut -c1-12 "$CTRKIT_STATE/containers/st-mem/id")
    assert_match "$(printf '%s\n' "$output" | sed -n 2p)" \
        "^$id +st-mem +[0-9]+\.[0-9]{2}% +[0-9.]+[KM]?i?B / 64MiB +[0-9]+\.[0-9]{2}% +0B / 0B +[0-9.]+[kMG]?B / [0-9.]+[kMG]?B +[12]$"
    before=$(stat st-mem MemUsageBytes)
    assert_eq "$(stat st-mem MemLimitBytes)" $((64 * 1024 * 1024))
    go st-mem
    after=$(stat st-mem MemUsageBytes)
    echo "memory before $before after $after" >&2
    [ "$after" -gt $((before + 18000000)) ]
    # the same number the kernel holds (usage minus the inactive page cache), to a page or so
    cg=$(cg_dir memory st-mem)
    if [ -f "$cg/memory.current" ]; then
        usage=$(cat "$cg/memory.current")
        inactive=$(awk '$1 == "inactive_file" { print $2 }' "$cg/memory.stat")
    else
        usage=$(cat "$cg/memory.usage_in_bytes")
        inactive=$(awk '$1 == "total_inactive_file" { print $2 }' "$cg/memory.stat")
    fi
    diff=$((usage - inactive - after))
    [ "${diff#-}" -lt 2000000 ]
    # MEM % is usage over the limit
    run_host ctr-stats --no-stream --format '{{.Name}} {{.MemPerc}} {{.MemUsage}}' st-mem
    assert_match "$output" "^st-mem (29|3[0-3])\.[0-9]{2}% [0-9.]+MiB / 64MiB$"
}

@test "ctr-stats: CPU % of a busy container, PIDS, a stopped one with -a, json parsed by jq" {
    need_run
    run_host ctr-run -d --network none --name st-busy busybox sh -c 'while :; do :; done'
    run_host ctr-run -d --network none --name st-idle busybox sh -c 'sleep 1 & sleep 1 & exec sleep 300'
    run_host ctr-run -d --network none --name st-gone busybox true
    run_host ctr-wait st-gone
    u0=$(cpu_usec st-busy)
    t0=$(date +%s%N)
    run_host ctr-stats --no-stream --format json
    u1=$(cpu_usec st-busy)
    t1=$(date +%s%N)
    # the running ones only, one JSON object a line
    assert_eq "$(printf '%s\n' "$output" | jq -r .Name | sort | tr '\n' ' ')" "st-busy st-idle "
    busy=$(printf '%s\n' "$output" | jq -r 'select(.Name == "st-busy") | .CPUPercent')
    idle=$(printf '%s\n' "$output" | jq -r 'select(.Name == "st-idle") | .CPUPercent')
    # what the kernel counted over the whole call (which holds ctr-stats' one-second window)
    around=$(((u1 - u0) * 100000 / ((t1 - t0) / 1000)))
    echo "busy $busy% idle $idle%; the cgroup's own counter over the call: ${around}e-3%" >&2
    # (the machine is shared: a spinning shell gets some of a CPU, not a fixed share; the
    # figure must be the cgroup's use over a second, no more than over the longer call)
    jq -en "$busy > 3 and $idle < 2 and $busy < ($around / 1000) * ($t1 - $t0) / 1e9 + 5"
    assert_eq "$(printf '%s\n' "$output" | jq -r 'select(.Name == "st-busy") | .CPUPerc')" \
        "$(printf '%.2f%%' "$busy")"
    # PIDS: the cgroup's processes (sh and its two sleeps)
    assert_eq "$(printf '%s\n' "$output" | jq -r 'select(.Name == "st-idle") | .PIDs')" 3
    # -a adds the stopped one, with zeros
    run_host ctr-stats -a --no-stream --format '{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}'
    assert_contains "$output" "st-gone|0.00%|0B / 0B|0"
    # by ID prefix, whole IDs with --no-trunc
    full=$(cat "$CTRKIT_STATE/containers/st-busy/id")
    run_host ctr-stats --no-stream --no-trunc --format '{{.ID}} {{.Name}}' "${full:0:7}"
    assert_eq "$output" "$full st-busy"
    run_host --rc 1 ctr-stats --no-stream no-such-ctr
    assert_error ctr-stats "no such container: no-such-ctr"
    run_host --rc 2 ctr-stats --no-stream --format '{{.Bogus}}'
    assert_error ctr-stats "Bogus"
    run_host --rc 2 ctr-stats --stream
    assert_error ctr-stats "'--stream'"
    run_host ctr-rm -f st-busy st-idle st-gone
}

@test "ctr-stats: NET I/O grows with traffic on a bridge; the stream refreshes every second, clearing the screen" {
    need_net
    run_host ctr-run -d --name st-net busybox sleep 300
    rx0=$(stat st-net NetRxBytes)
    tx0=$(stat st-net NetTxBytes)
    gw=$(in_host ctr-exec st-net ip -4 route | awk '/default/ { print $3 }')
    run_host ctr-exec st-net ping -c 5 -i 0.2 -s 1400 "$gw"
    rx1=$(stat st-net NetRxBytes)
    tx1=$(stat st-net NetTxBytes)
    echo "rx $rx0 -> $rx1, tx $tx0 -> $tx1" >&2
    [ "$rx1" -ge $((rx0 + 5 * 1400)) ]
    [ "$tx1" -ge $((tx0 + 5 * 1400)) ]
    run_host ctr-stats --no-stream --format '{{.NetIO}}' st-net
    assert_match "$output" "^[0-9.]+kB / [0-9.]+kB$"
    # streaming: a frame a second, each after the clear-screen and home codes, until killed
    run_host timeout -s INT 3.5 ctr-stats st-net || true
    frames=$(printf '%s' "$output" | grep -o $'\e\[2J\e\[H' | grep -c '')
    echo "frames: $frames" >&2
    [ "$frames" -ge 2 ]
    [ "$frames" -le 4 ]
    assert_contains "$output" st-net
}

@test "ctr-stats: BLOCK I/O counts the container's direct reads and writes" {
    need_run
    GO='dd if=/dev/zero of=/blk bs=1M count=8 oflag=direct 2>/dev/null' waiter st-blk --network none
    w0=$(stat st-blk BlockWriteBytes)
    go st-blk
    w1=$(stat st-blk BlockWriteBytes)
    echo "written $w0 -> $w1" >&2
    [ "$w1" -ge $((w0 + 8 * 1024 * 1024)) ]
}

# mounted NAME : something is mounted under the container's state folder (in the test host)
mounted_under() {
    in_host grep -q " $CTRKIT_STATE/containers/$1/" /proc/self/mounts
}

@test "ctr-rename of a running bridge container: every script takes the new name, the old one is free, ctr-rm undoes all" {
    need_net
    run_host ctr-run -d --restart always --name rn-a busybox sh -c 'echo hello; while :; do sleep 1; done'
    id=$(cat "$CTRKIT_STATE/containers/rn-a/id")
    mounted_under rn-a
    run_host ctr-rename rn-a rn-b
    assert_eq "$output" ""
    [ ! -e "$CTRKIT_STATE/containers/rn-a" ]
    [ -d "$CTRKIT_STATE/containers/rn-b" ]
    [ ! -e "$CTRKIT_ROOT/logs/rn-a" ]
    [ -d "$CTRKIT_ROOT/logs/rn-b" ]
    run ! mounted_under rn-a
    mounted_under rn-b
    run ! grep -q "containers/rn-a" "$CTRKIT_STATE/containers/rn-b/undo" "$CTRKIT_STATE/containers/rn-b/start"
    run_host ctr-ls --format '{{.Names}} {{.ID}}'
    assert_eq "$output" "rn-b ${id:0:12}"
    # the ID index follows: the ID names the new folder
    assert_eq "$(cat "$CTRKIT_STATE/ids/$id")" rn-b
    run_host ctr-inspect "${id:0:7}"
    assert_json .name rn-b
    run_host ctr-exec rn-b hostname
    assert_eq "$output" rn-a
    run_host ctr-logs rn-b
    assert_eq "$output" hello
    run_host --rc 125 ctr-exec rn-a true
    assert_error ctr-exec "no such container: rn-a"
    # the old name is free: a new container takes it (its cgroup and layer another key)
    run_host ctr-run -d --network none --name rn-a busybox sleep 300
    assert_eq "$(cat "$CTRKIT_STATE/containers/rn-a/cgroup")" "$CTRKIT_CGROUP_PARENT/rn-a-$(cut -c1-12 "$CTRKIT_STATE/containers/rn-a/id")"
    # refused, one line each, nothing moved
    run_host --rc 1 ctr-rename rn-b rn-a
    assert_error ctr-rename "the name rn-a is already in use"
    run_host --rc 2 ctr-rename rn-b 'bad/name'
    assert_error ctr-rename "invalid container name 'bad/name'"
    run_host --rc 1 ctr-rename no-such-ctr rn-c
    assert_error ctr-rename "no such container: no-such-ctr"
    [ -d "$CTRKIT_STATE/containers/rn-b" ]
    # its monitor followed: killed, it is restarted in the new folder
    p1=$(cat "$CTRKIT_STATE/containers/rn-b/pid")
    run_host ctr-kill rn-b
    wait_for grep -qx 1 "$CTRKIT_STATE/containers/rn-b/restart-count"
    wait_for state_is rn-b running
    [ "$(cat "$CTRKIT_STATE/containers/rn-b/pid")" != "$p1" ]
    [ ! -e "$CTRKIT_STATE/containers/rn-a/restart-count" ]
    # ctr-stop records the exit in the new folder; ctr-rm removes everything it had
    run_host ctr-stop -t 1 rn-b
    assert_eq "$(cat "$CTRKIT_STATE/containers/rn-b/exit")" 137
    [ -d "$(cgroup_dir memory rn-a)" ]
    run_host ctr-rm rn-b
    [ ! -e "$CTRKIT_STATE/containers/rn-b" ]
    [ ! -e "$CTRKIT_STATE/ids/$id" ]
    [ ! -e "$CTRKIT_ROOT/logs/rn-b" ]
    [ ! -e "$CTRKIT_STATE/keys/rn-a" ]
    run ! in_host grep -q "$CTRKIT_STATE/containers/rn-b" /proc/self/mounts
    # the first container's cgroup (key rn-a) went; the new rn-a's stays
    [ -d "$(cgroup_dir memory "rn-a-$(cut -c1-12 "$CTRKIT_STATE/containers/rn-a/id")")" ]
    [ ! -d "$(cgroup_dir memory rn-a)" ]
    run_host ctr-rm -f rn-a
}

@test "ctr-rename of a stopped container: ctr-start and ctr-logs under the new name" {
    need_run
    run_host ctr-run -d --network none --name rn-s busybox echo ran
    run_host ctr-wait rn-s
    run_host ctr-rename rn-s rn-t
    run_host ctr-start -a rn-t
    assert_eq "$output" ran
    run_host ctr-logs rn-t
    assert_eq "$output" "ran
ran"
    run_host ctr-ls -a --format '{{.Names}} {{.State}}'
    assert_eq "$output" "rn-t exited"
    run_host ctr-rm rn-t
    [ -z "$(ls "$CTRKIT_STATE/containers")" ]
}

# power_off NAME... : what a power loss does to these containers: every process of theirs --
# the container's (its cgroup's), its monitor's and its log writer's -- killed by PID at once
power_off() {
    local n k p cmd pids=''
    for n; do
        pids="$pids $(cat "$(cg_dir pids "$n")/cgroup.procs")"
        # (the monitor: ctr-run's shell, then ctr-state wait during a run and a shell at
        # monitor_next between runs; a renamed container's monitor and log relay still
        # carry the name it was made with)
        k=$n
        [ ! -f "$CTRKIT_STATE/containers/$n/key" ] || k=$(cat "$CTRKIT_STATE/containers/$n/key")
        for p in /proc/[0-9]*; do
            { cmd=$(tr '\0' ' ' <"$p/cmdline"); } 2>/dev/null || continue
            case $cmd in
                *"/ctr-run "*"--name $n "* | *"logs/$n/log "* | *"/ctr-run "*"--name $k "* | *"logs/$k/log "* | \
                    "ctr-state wait "*"/containers/$n "* | "ctr-state wait "*"/containers/$k "* | \
                    *"monitor_next "*"/containers/$n "* | *"monitor_next "*"/containers/$k "*)
                    pids="$pids ${p#/proc/}"
                    ;;
            esac
        done
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
}

# reboot_clean : what a reboot clears: the mounts under $CTRKIT_STATE, the containers'
# cgroups, and $CTRKIT_STATE itself (a tmpfs, /run); $CTRKIT_ROOT (the disk) stays
reboot_clean() {
    local d cg
    for d in "$CTRKIT_STATE"/containers/*; do
        cg=$(cat "$d/cgroup")
        wait_for cgset delete "$cg" --kill --missing-ok
    done
    in_host sh -c "awk '\$2 ~ \"^$CTRKIT_STATE/\" { print \$2 }' /proc/self/mounts | sort -r | xargs -r umount"
    rm -rf "${CTRKIT_STATE:?}"/*
}

@test "ctr-boot after a simulated reboot starts the always and unless-stopped containers again, the same ones; not the stopped or no-policy ones" {
    need_run
    run_host ctr-run -d --network none --restart always --name bt-always busybox \
        sh -c 'echo started; while :; do sleep 1; done'
    run_host ctr-run -d --network none --restart unless-stopped --name bt-unless busybox sleep 300
    run_host ctr-run -d --network none --restart unless-stopped --name bt-stopped busybox sleep 300
    run_host ctr-run -d --network none --name bt-no busybox sleep 300
    run_host ctr-stop -t 1 bt-stopped
    run_host ctr-exec bt-always sh -c 'echo kept >/kept'
    id=$(cat "$CTRKIT_STATE/containers/bt-always/id")
    run_host ctr-boot --dry-run
    assert_eq "$output" ""
    power_off bt-always bt-unless bt-stopped bt-no
    reboot_clean
    [ -z "$(ls "$CTRKIT_STATE")" ]
    run_host ctr-ls -aq
    assert_eq "$output" ""
    run_host ctr-boot -n
    assert_eq "$output" "bt-always
bt-unless"
    run_host ctr-ls -aq
    assert_eq "$output" ""
    run_host ctr-boot
    assert_eq "$output" "bt-always
bt-unless"
    run_host ctr-ls --format '{{.Names}} {{.State}}'
    assert_eq "$(sort <<<"$output")" "bt-always running
bt-unless running"
    # the same container: its ID, its writable layer, its log, its restart policy
    assert_eq "$(cat "$CTRKIT_STATE/containers/bt-always/id")" "$id"
    run_host ctr-exec bt-always cat /kept
    assert_eq "$output" kept
    run_host ctr-logs bt-always
    assert_eq "$output" "started
started"
    p1=$(cat "$CTRKIT_STATE/containers/bt-always/pid")
    run_host ctr-kill bt-always
    wait_for grep -qx 1 "$CTRKIT_STATE/containers/bt-always/restart-count"
    wait_for state_is bt-always running
    [ "$(cat "$CTRKIT_STATE/containers/bt-always/pid")" != "$p1" ]
    # once more: they are there, nothing to do
    run_host ctr-boot
    assert_eq "$output" ""
    run_host ctr-rm -f bt-always bt-unless
    # (what the reboot orphaned: the no-policy and stopped containers' layers, and the
    # stopped one's record)
    assert_eq "$(ls "$CTRKIT_ROOT/boot")" bt-stopped
    rm -r "$CTRKIT_ROOT/boot/bt-stopped"
    in_host layermount rm-container bt-no
    in_host layermount rm-container bt-stopped
}

@test "ctr-boot: a renamed container comes back under its new name, with its layer; bad words refused" {
    need_run
    run_host ctr-run -d --network none --restart always --name bt-old busybox sleep 300
    run_host ctr-exec bt-old sh -c 'echo kept >/kept'
    run_host ctr-rename bt-old bt-new
    [ -d "$CTRKIT_ROOT/boot/bt-new" ]
    [ ! -e "$CTRKIT_ROOT/boot/bt-old" ]
    power_off bt-new
    reboot_clean
    run_host ctr-boot
    assert_eq "$output" bt-new
    run_host ctr-exec bt-new cat /kept
    assert_eq "$output" kept
    # a new container may take the old name: its key differs
    run_host ctr-run -d --network none --name bt-old busybox sleep 300
    run_host ctr-rm -f bt-new bt-old
    [ -z "$(ls "$CTRKIT_ROOT/boot")" ]
    [ -z "$(ls "$CTRKIT_STATE/keys")" ]
    run_host --rc 2 ctr-boot extra
    assert_error ctr-boot "no arguments"
    run_host --rc 2 ctr-boot --bogus
    assert_error ctr-boot "'--bogus'"
}

@test "ctr-boot: a bridge container comes back on its network, the bridge gone with the reboot" {
    need_net
    run_host ctr-run -d --restart always --name bt-net busybox sh -c 'while :; do sleep 1; done'
    power_off bt-net
    reboot_clean
    # (links do not outlive a reboot: the test host's bridge goes too)
    in_host ip link del ctrkit0
    run_host ctr-boot
    assert_eq "$output" bt-net
    gw=$(in_host ctr-exec bt-net ip -4 route | awk '/default/ { print $3 }')
    [ -n "$gw" ]
    run_host ctr-exec bt-net ping -c 1 -W 2 "$gw"
    run_host ctr-rm -f bt-net
    [ -z "$(ls "$CTRKIT_ROOT/boot")" ]
}

@test "make install puts the ctrkit-boot.service unit in place, running the installed ctr-boot" {
    prefix="$TEST_DIR/prefix"
    run_tool make -C "$CTRKIT_SRC" --no-print-directory install-files PREFIX="$prefix" RELEASE="$CTRKIT_BIN"
    unit="$prefix/lib/systemd/system/ctrkit-boot.service"
    assert_contains "$(cat "$unit")" "ExecStart=$prefix/bin/ctr-boot"
    assert_contains "$(cat "$unit")" "WantedBy=multi-user.target"
    # the installed ctr-boot finds its lib and runs (nothing recorded: nothing started)
    CTRKIT_ROOT="$TEST_DIR/empty-root" run_tool "$prefix/bin/ctr-boot"
    assert_eq "$output" ""
    run_tool make -C "$CTRKIT_SRC" --no-print-directory uninstall PREFIX="$prefix"
    [ ! -e "$unit" ]
    [ ! -e "$prefix/bin/ctr-boot" ]
}

@test "ctr-pull, ctr-push, ctr-tag, ctr-login: layermount's error lines carry the script's name" {
    run_tool --rc 1 ctr-tag no-such-image:1 other:1
    assert_error ctr-tag "no such image: no-such-image:1"
    # (a registry nobody listens at: port 1 of the loopback of a namespace of our own)
    run_tool --rc 1 unshare -n sh -c 'ip link set lo up; ctr-pull -q 127.0.0.1:1/x/y:1'
    assert_error ctr-pull "127.0.0.1:1"
    run_tool --rc 1 ctr-push no-such-image:1 127.0.0.1:1/x/y:1
    assert_error ctr-push "no-such-image"
    run_tool --rc 1 unshare -n sh -c 'ip link set lo up; ctr-login -u a -p b 127.0.0.1:1'
    assert_error ctr-login "127.0.0.1:1"
    # the tool itself still says its own name
    run_tool --rc 1 layermount tag no-such-image:1 other:1
    assert_error layermount "no such image"
}

# bytes TEXT : a Docker size (12.3MB, 648B, 1.45kB) in bytes
bytes() {
    awk -v s="$1" 'BEGIN { n = s + 0; u = s; sub(/^[0-9.]+/, "", u)
        m = (u == "kB") ? 1e3 : (u == "MB") ? 1e6 : (u == "GB") ? 1e9 : 1; printf "%d\n", n * m }'
}

@test "ctr-ls -s: the writable layer's size and (virtual N) with the image; -as bundles, .Size in templates" {
    need_run
    GO='head -c 3000000 /dev/urandom >/big' waiter ls-size --network none
    run_host ctr-run -d --network none --name ls-small busybox sleep 300
    run_host ctr-ls -s --format '{{.Names}}|{{.Size}}'
    small=$(printf '%s\n' "$output" | sed -n 's/^ls-small|//p')
    before=$(printf '%s\n' "$output" | sed -n 's/^ls-size|//p')
    go ls-size
    run_host ctr-ls -as --format '{{.Names}}|{{.Size}}'
    after=$(printf '%s\n' "$output" | sed -n 's/^ls-size|//p')
    echo "small: $small; before: $before; after: $after" >&2
    assert_match "$after" '^[0-9.]+[kMG]?B \(virtual [0-9.]+[kMG]?B\)$'
    rw=$(bytes "${after%% *}")
    virtual=$(bytes "$(sed 's/.*(virtual \(.*\))/\1/' <<<"$after")")
    rw0=$(bytes "${before%% *}")
    [ "$rw" -ge $((rw0 + 2900000)) ]
    [ "$rw" -le $((rw0 + 3400000)) ]
    # the image's bytes come on top: what layermount df says of busybox
    image=$(in_host layermount df --json | jq '[.images[] | select(.names | index("busybox:latest") or index("busybox")) | .size] | first')
    [ "$image" -gt 1000000 ]
    diff=$((virtual - rw - image))
    [ "${diff#-}" -lt $((virtual / 100 + 10000)) ]
    # a container that wrote nothing: a few kB at most
    [ "$(bytes "${small%% *}")" -lt 100000 ]
    run_host ctr-ls --size
    assert_match "$(printf '%s\n' "$output" | sed -n 1p)" "NAMES +SIZE$"
    run_host ctr-ls
    assert_match "$(printf '%s\n' "$output" | sed -n 1p)" "NAMES$"
    run_host ctr-rm -f ls-size ls-small
}

@test "ctr-state stats reads a cgroup cgset made: limit, usage without the page cache, PIDs, CPU (v1 here; v2 in tests/vm)" {
    require_root
    cg="$TEST_CGROUP/st-raw"
    cgset create "$cg" --parent-ok --memory 64M --pids 20 >/dev/null
    state="$TEST_DIR/raw-state"
    mkdir -p "$state/containers/raw"
    # 20 MB held by a shell, a second process spinning; both in the cgroup
    cgset exec "$cg" -- sh -c 'x=$(head -c 20000000 /dev/zero | tr "\0" a); touch '"$TEST_DIR"'/raw-ready
        (while :; do :; done) & while :; do sleep 1; done' &
    track_pid $!
    wait_for test -f "$TEST_DIR/raw-ready"
    echo $! >"$state/containers/raw/pid"
    echo "$cg" >"$state/containers/raw/cgroup"
    echo 0123456789abcdef >"$state/containers/raw/id"
    run_tool ctr-state stats --state-dir "$state" --no-stream --format json raw
    echo "$output" >&2
    assert_json .MemLimitBytes $((64 * 1024 * 1024))
    assert_json '.MemUsageBytes > 20000000 and .MemUsageBytes < 40000000' true
    assert_json .PIDs 3
    assert_json '.CPUPercent > 3' true
    assert_json .NetIO "0B / 0B"
    assert_json .ID 0123456789ab
    kill_tracked
    cgset delete "$cg" --kill --missing-ok
}
