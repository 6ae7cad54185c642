#!/usr/bin/env bats
# A detached container's life, on the bridge network inside a test host namespace:
# ctr-ls, ctr-exec, ctr-logs, ctr-inspect, ctr-stop, ctr-rm -- and nothing left behind.

load helpers
load 60-ctr-helpers

setup_file() { ctr_setup_file; }
teardown_file() { ctr_teardown_file; }
teardown() { ctr_teardown; }
setup() { ctr_setup_host; }

@test "detached: ctr-ls lists it, ctr-exec joins its namespaces, ctr-logs shows its output" {
    need_net
    run_host ctr-run -d --name web busybox \
        sh -c 'echo started; trap "echo bye; exit 0" TERM; while :; do sleep 0.1; done'
    assert_eq "$output" web
    pid=$(cat "$CTRKIT_STATE/containers/web/pid")
    [ -d "/proc/$pid" ]
    # its monitor waits as ctr-state wait (the monitor shell exec'd into it, keeping its
    # children): the parent of the log relay, the container's first process below it, with
    # little of its code resident (make bench reports its RSS)
    ppid_of() { awk '{print $4}' "/proc/$1/stat"; }
    mon=$(pgrep -f "^ctr-state wait $CTRKIT_STATE/containers/web ")
    assert_eq "$(ppid_of "$(pgrep -f "^ctr-state log $CTRKIT_ROOT/logs/web/log ")")" "$mon"
    p=$pid
    while [ "$p" -gt 1 ] && [ "$p" != "$mon" ]; do p=$(ppid_of "$p"); done
    assert_eq "$p" "$mon"
    read -r size rss < <(awk '/^[0-9a-f]+-/ { perm = $2; file = $6 }
        /^Size:/ { size = $2 }
        /^Rss:/ { if (perm == "r-xp" && file ~ /ctr-state/) print size, $2 }' "/proc/$mon/smaps")
    # (without the drop 87% of the mapping stays resident, with it 58%; 24% in a release build)
    echo "monitor: code mapping $size KiB, resident $rss KiB" >&2
    [ "$rss" -lt $((size * 3 / 4)) ]

    run_tool ctr-ls
    assert_contains "$output" web
    run_tool ctr-ls -a --format '{{.Names}} {{.State}} {{.Image}}'
    assert_eq "$output" "web running busybox"

    # same namespaces as its first process
    run_host ctr-exec web sh -c 'for n in net mnt uts ipc pid; do readlink /proc/self/ns/$n; done'
    want=$(for n in net mnt uts ipc pid; do readlink "/proc/$pid/ns/$n"; done)
    assert_eq "$output" "$want"
    # its cgroup, its environment, its capabilities; -u and -e
    run_host ctr-exec web cat /proc/self/cgroup
    assert_contains "$output" "$CTRKIT_CGROUP_PARENT/web"
    run_host ctr-exec web sh -c 'echo $HOSTNAME; grep ^CapEff /proc/self/status'
    assert_eq "$output" "web
CapEff:	00000000a80425fb"
    run_host ctr-exec -u 1000 -e GREETING=hi web sh -c 'id -u; echo $GREETING'
    assert_eq "$output" "1000
hi"
    run_host --rc 3 ctr-exec web sh -c 'exit 3'

    run_tool ctr-logs web
    assert_eq "$output" started
    run_tool ctr-inspect web
    assert_json .status running
    assert_json .pid "$pid"
    assert_json '.network.ips[0].address | test("^10\\.47\\.")' true

    # ctr-stop: SIGTERM reaches it and it ends well within the grace period
    start=$SECONDS
    run_tool ctr-stop -t 8 web
    [ $((SECONDS - start)) -lt 6 ]
    [ ! -d "/proc/$pid" ]
    run_tool ctr-logs web
    assert_eq "$output" "started
bye"
    run_tool ctr-inspect web
    assert_json .status exited
    assert_json .exit_code 0

    run_host ctr-rm web
    no_leftovers web host
    host_clean
    ! pgrep -f 'trap "echo bye' >/dev/null
}

@test "ctr-stop kills a container that ignores SIGTERM once the grace period is over" {
    need_net
    run_host ctr-run -d --name deaf busybox sleep 4243
    start=$SECONDS
    run_tool ctr-stop -t 1 deaf
    [ $((SECONDS - start)) -lt 5 ]
    ! pgrep -x -f 'sleep 4243' >/dev/null
    run_tool ctr-inspect deaf
    assert_json .exit_code 137
    run_host --rc 1 ctr-rm deaf nosuch
    assert_error ctr-rm "no such container: nosuch"
    no_leftovers deaf host
    host_clean
}

@test "ctr-rm refuses a running container without -f; -f removes it, twice" {
    need_net
    run_host ctr-run -d --name busy busybox sleep 4244
    run_host --rc 1 ctr-rm busy
    assert_error ctr-rm "container busy is running"
    run_host ctr-rm -f busy
    run_host ctr-rm -f busy
    ! pgrep -x -f 'sleep 4244' >/dev/null
    no_leftovers busy host
    host_clean
}

@test "ctr-logs -f follows until the container ends; a detached --rm container removes itself" {
    need_net
    run_host ctr-run -d --rm --name ticker busybox sh -c 'for i in 1 2 3; do echo tick $i; sleep 0.3; done'
    run_tool ctr-logs -f ticker
    assert_eq "$output" "tick 1
tick 2
tick 3"
    wait_for test ! -e "$CTRKIT_STATE/containers/ticker"
    no_leftovers ticker host
    host_clean
}

@test "a chatty detached container's log is rotated: 6 MiB with max-size=1m keeps under 3.5 MB" {
    need_run
    # 6 MiB of numbered 64-byte lines, then a last line
    run_tool ctr-run -d --network none --name chatty --log-opt max-size=1m busybox sh -c \
        'awk "BEGIN { for (i = 1; i <= 98304; i++) printf \"%063d\\n\", i }"; echo the-last-line'
    wait_for test -f "$CTRKIT_STATE/containers/chatty/exit"
    logs=$CTRKIT_ROOT/logs/chatty
    total=$(cat "$logs"/log* | wc -c)
    [ "$total" -lt 3500000 ] || { ls -l "$logs" >&2; false; }
    # the files are closed to other users, and on disk (under CTRKIT_ROOT), not in the state folder
    assert_eq "$(stat -c %a "$logs")" 700
    assert_eq "$(stat -c %a "$logs/log")" 600
    [ ! -e "$CTRKIT_STATE/containers/chatty/log" ]
    run_tool ctr-logs chatty
    assert_eq "$(printf '%s\n' "$output" | tail -n 1)" the-last-line
    # in order across the files: the numbers only grow
    printf '%s\n' "$output" | sed '$d' | sort -c
    # three files at most (max-file's default)
    [ ! -e "$logs/log.3" ]
    run_tool ctr-rm chatty
    [ ! -e "$logs" ]
    no_leftovers chatty
}

@test "--log-opt: a bad size or count, or an unknown option, is one line naming it" {
    run_tool --rc 125 ctr-run --log-opt max-size=lots busybox true
    assert_error ctr-run "max-size=lots"
    run_tool --rc 125 ctr-run --log-opt max-file=0 busybox true
    assert_error ctr-run "max-file=0"
    run_tool --rc 125 ctr-run --log-opt labels=x busybox true
    assert_error ctr-run "labels=x"
}

@test "a reused PID is never signalled nor entered: ctr-stop, ctr-rm -f, ctr-exec check it first" {
    need_run
    run_tool ctr-run -d --network none --name victim busybox sleep 300
    dir=$CTRKIT_STATE/containers/victim
    # an unrelated process of the host takes the place of the recorded PID, as a reused PID
    # would (it started after the pidfile was written, and is not in the container's cgroup)
    sleep 301 3>&- &
    other=$!
    track_pid "$other"
    touch -d '-10 seconds' "$dir/pid"
    echo "$other" >"$dir/pid.new" && touch -d '-10 seconds' "$dir/pid.new" && mv "$dir/pid.new" "$dir/pid"
    run_tool --rc 1 ctr-state pid "$dir"
    assert_error ctr-state "not the container's any more"
    run_tool --rc 1 ctr-state kill "$dir" KILL
    run_tool --rc 125 ctr-exec victim true
    assert_contains "$stderr" "not running"
    run_tool ctr-stop -t 1 victim
    kill -0 "$other"
    run_tool ctr-rm -f victim
    kill -0 "$other"
    no_leftovers victim
}

@test "as user nobody: no state file, log, merged tree or layer of a container can be reached" {
    need_run
    # a world-traversable place, so that only ctrkit's own modes can stop nobody
    local pub
    pub=$(mktemp -d /tmp/ctrkit-nobody.XXXXXX)
    chmod 0755 "$pub"
    CTRKIT_ROOT=$pub/root CTRKIT_STATE=$pub/state run_tool ctr-run -d --network none --name secretive \
        -e SECRET=hunter2 busybox sh -c 'echo logged-secret; sleep 300'
    local d=$pub/state/containers/secretive
    wait_for grep -q logged-secret "$pub/root/logs/secretive/log"
    local f
    for f in "$d/env" "$d/config" "$d/cmd" "$pub/root/logs/secretive/log"; do
        [ -f "$f" ] || { echo "no $f" >&2; false; }
        if setpriv --reuid=65534 --regid=65534 --clear-groups cat "$f" >/dev/null 2>&1; then
            echo "nobody read $f" >&2
            false
        fi
    done
    for f in "$d/merged" "$pub/root/layers" "$pub/root/logs/secretive" "$d"; do
        if setpriv --reuid=65534 --regid=65534 --clear-groups ls "$f" >/dev/null 2>&1; then
            echo "nobody listed $f" >&2
            false
        fi
    done
    assert_eq "$(stat -c %a "$d")" 700
    assert_eq "$(stat -c %a "$pub/root")" 700
    CTRKIT_ROOT=$pub/root CTRKIT_STATE=$pub/state run_tool ctr-rm -f secretive
    CTRKIT_ROOT=$pub/root CTRKIT_STATE=$pub/state run_tool layermount rm busybox
    run_tool nsenter-rs --unpin "$pub/state/template"
    rm -rf --one-file-system "$pub"
}
