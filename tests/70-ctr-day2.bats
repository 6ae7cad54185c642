#!/usr/bin/env bats
# Docker's day-2 habits on ctrkit's scripts: bundled short flags, containers by ID or ID
# prefix (what ctr-ls -q prints), and ctr-kill, ctr-pause/unpause, ctr-wait, ctr-top,
# ctr-port, ctr-update, ctr-stop -s, ctr-logs --tail -- each observed from outside.

load helpers
load 60-ctr-helpers

setup_file() { ctr_setup_file; }
teardown_file() { ctr_teardown_file; }
teardown() { ctr_teardown; }
setup() { ctr_setup_host; }

# status_of NAME : the container's status, as ctr-inspect tells it
status_of() {
    in_host ctr-inspect "$1" | jq -r .status
}

# state_is NAME STATE : the container's status is STATE (for wait_for)
state_is() {
    [ "$(status_of "$1")" = "$2" ]
}

# restarts_at_least NAME N : its monitor restarted it N times or more (for wait_for)
restarts_at_least() {
    [ "$(cat "$CTRKIT_STATE/containers/$1/restart-count" 2>/dev/null || echo 0)" -ge "$2" ]
}

# counter NAME : a detached container counting in /tmp/c, ten times a second (each value
# written whole: a reader never sees the file empty)
counter() {
    run_host ctr-run -d --network none --name "$1" "${@:2}" busybox \
        sh -c 'i=0; while :; do i=$((i + 1)); echo $i >/tmp/c.new; mv /tmp/c.new /tmp/c; sleep 0.1; done'
    assert_eq "$output" "$1"
}

@test "ctr-ls -q prints IDs that ctr-exec, ctr-stop and ctr-rm take, whole or as a prefix" {
    need_run
    counter d2-ids
    run_host ctr-ls -q
    id=$output
    [[ "$id" =~ ^[0-9a-f]{12}$ ]]
    full=$(cat "$CTRKIT_STATE/containers/d2-ids/id")
    [[ "$full" =~ ^[0-9a-f]{64}$ ]]
    assert_eq "${full:0:12}" "$id"
    run_host ctr-inspect "${full:0:5}"
    assert_json .name d2-ids
    assert_json .id "$full"
    run_host ctr-exec "$id" hostname
    assert_eq "$output" d2-ids
    # the ID index: an entry holding the name, trusted only while that folder holds the ID
    assert_eq "$(cat "$CTRKIT_STATE/ids/$full")" d2-ids
    fake=${full:0:12}$(printf '%052d' 0)
    [ "$fake" != "$full" ]
    echo d2-ids >"$CTRKIT_STATE/ids/$fake"
    run_host --rc 1 ctr-inspect "$fake"
    assert_error ctr-inspect "no such container: $fake"
    rm "$CTRKIT_STATE/ids/$fake"
    # without its entry (a container from before the index) the ID still finds it
    mv "$CTRKIT_STATE/ids/$full" "$TEST_DIR/entry"
    run_host ctr-inspect "${full:0:5}"
    assert_json .name d2-ids
    mv "$TEST_DIR/entry" "$CTRKIT_STATE/ids/$full"
    # bundled flags: ctr-rm -fv with the ID from ctr-ls -q, as `docker ps -q | xargs docker rm -f`
    run_host sh -c 'ctr-ls -q | xargs ctr-rm -fv'
    [ ! -d "$CTRKIT_STATE/containers/d2-ids" ]
    [ ! -e "$CTRKIT_STATE/ids/$full" ]
    run_host ctr-ls -q
    assert_eq "$output" ""
}

@test "an ID prefix of two containers is an error naming both; nothing is touched" {
    need_run
    counter d2-a
    counter d2-b
    # (two IDs that share a prefix: random ones rarely do; their index entries move along)
    for c in a b; do
        old=$(cat "$CTRKIT_STATE/containers/d2-$c/id")
        new=abc$c$(head -c 30 /dev/urandom | od -An -tx1 | tr -d ' \n' | head -c 60)
        echo "$new" >"$CTRKIT_STATE/containers/d2-$c/id"
        mv "$CTRKIT_STATE/ids/$old" "$CTRKIT_STATE/ids/$new"
    done
    run_host --rc 1 ctr-rm -f abc
    assert_error ctr-rm "ambiguous"
    assert_contains "$stderr" d2-a
    assert_contains "$stderr" d2-b
    [ -d "$CTRKIT_STATE/containers/d2-a" ] && [ -d "$CTRKIT_STATE/containers/d2-b" ]
    run_host ctr-kill abcb
    assert_eq "$output" abcb
    run_host ctr-wait d2-b
    assert_eq "$output" 137
    [ "$(status_of d2-a)" = running ]
}

@test "ctr-pause freezes the container (its counter stops), ctr-exec refuses it, ctr-unpause resumes" {
    need_run
    counter d2-p
    sleep 0.3
    run_host ctr-pause d2-p
    assert_eq "$output" d2-p
    run_host ctr-ls -a --format '{{.Names}} {{.State}}'
    assert_eq "$output" "d2-p paused"
    run_host ctr-ls
    assert_match "$output" "Up .* \(Paused\) +d2-p"
    # every process of its cgroup is frozen: the counter does not move
    a=$(in_host cat "$CTRKIT_STATE/containers/d2-p/merged/tmp/c")
    sleep 0.5
    b=$(in_host cat "$CTRKIT_STATE/containers/d2-p/merged/tmp/c")
    assert_eq "$b" "$a"
    run_host --rc 125 ctr-exec d2-p true
    assert_error ctr-exec "paused"
    run_host --rc 1 ctr-pause d2-p
    assert_error ctr-pause "already paused"
    run_host ctr-unpause d2-p
    sleep 0.5
    c=$(in_host cat "$CTRKIT_STATE/containers/d2-p/merged/tmp/c")
    [ "$c" -gt "$b" ]
    run_host --rc 1 ctr-unpause d2-p
    assert_error ctr-unpause "not paused"
    # a paused container still stops: thawed, then signalled
    run_host ctr-pause d2-p
    run_host ctr-stop -t 1 d2-p
    assert_eq "$(status_of d2-p)" exited
}

@test "ctr-wait prints the exit code; ctr-kill -s signals the init, a bad signal is refused" {
    need_run
    run_host ctr-run -d --network none --name d2-w busybox sh -c 'sleep 0.3; exit 3'
    run_host ctr-wait d2-w
    assert_eq "$output" 3
    run_host ctr-run -d --network none --name d2-k busybox \
        sh -c 'trap "echo got-usr1; exit 7" USR1; while :; do sleep 0.1; done'
    sleep 0.3
    run_host --rc 2 ctr-kill -s BOGUS d2-k
    assert_error ctr-kill "BOGUS"
    assert_eq "$(status_of d2-k)" running
    run_host ctr-kill -s USR1 d2-k
    run_host ctr-wait d2-k
    assert_eq "$output" 7
    run_host ctr-logs --tail 1 d2-k
    assert_eq "$output" got-usr1
    run_host --rc 1 ctr-kill d2-k
    assert_error ctr-kill "not running"
    run_host --rc 1 ctr-wait no-such-ctr
    assert_error ctr-wait "no such container"
}

@test "ctr-stop -s and --timeout= (an attached value); ctr-logs -n N across rotated files" {
    need_run
    run_host ctr-run -d --network none --name d2-s --log-opt max-size=1k busybox \
        sh -c 'seq 1 1000; trap "echo bye-hup; exit 0" HUP; while :; do sleep 0.1; done'
    wait_for_file "$CTRKIT_ROOT/logs/d2-s/log.1"
    run_host ctr-logs -n 3 d2-s
    assert_eq "$output" "998
999
1000"
    run_host ctr-stop -s HUP --timeout=5 d2-s
    run_host ctr-logs --tail=1 d2-s
    assert_eq "$output" bye-hup
    assert_eq "$(cat "$CTRKIT_STATE/containers/d2-s/exit")" 0
    run_host --rc 2 ctr-logs -n lots d2-s
    assert_error ctr-logs "lots"
}

@test "ctr-top lists the container's processes; ctr-update changes its memory limit in cgroupfs" {
    need_run
    counter d2-u -m 64m
    run_host ctr-top d2-u
    assert_contains "$output" "sh -c i=0"
    run_host ctr-top --json d2-u
    assert_json '[.[] | .container_pid] | index(1) != null' true
    run_host ctr-update -m 96m --pids-limit 50 d2-u
    assert_eq "$output" d2-u
    assert_eq "$(cat "$(cgroup_dir memory d2-u)/memory.limit_in_bytes")" $((96 * 1024 * 1024))
    assert_eq "$(cat "$(cgroup_dir pids d2-u)/pids.max")" 50
    # a value the kernel or cgset refuses: one line, the old limits stay
    run_host --rc 1 ctr-update -m 1k d2-u
    assert_error ctr-update "refused"
    assert_eq "$(cat "$(cgroup_dir memory d2-u)/memory.limit_in_bytes")" $((96 * 1024 * 1024))
    run_host --rc 2 ctr-update d2-u
    assert_error ctr-update "no limit"
}

@test "ctr-port lists what -p published (bridge mode, in the test host)" {
    need_net
    run_host ctr-run -d --name d2-port -p 8080:80 -p 5353:53/udp busybox sleep 300
    run_host ctr-port d2-port
    assert_eq "$output" "80/tcp -> 0.0.0.0:8080
53/udp -> 0.0.0.0:5353"
    run_host ctr-port d2-port 53/udp
    assert_eq "$output" "0.0.0.0:5353"
    run_host --rc 1 ctr-port d2-port 81
    assert_error ctr-port "81/tcp"
    run_host --rc 2 ctr-port d2-port 8x
    assert_error ctr-port "8x"
}

@test "ctr-run: -dit bundles, -h is the host name, --stop-signal is what ctr-stop sends, --cidfile holds the ID" {
    need_run
    run_host ctr-run -dit --network none -h d2-host --name d2-run --stop-signal USR1 \
        --stop-timeout=30 --cidfile "$TEST_DIR/cid" busybox \
        sh -c 'trap "echo got-usr1; exit 9" USR1; while :; do sleep 0.1; done'
    assert_eq "$output" d2-run
    assert_eq "$(cat "$TEST_DIR/cid")" "$(cat "$CTRKIT_STATE/containers/d2-run/id")"
    run_host ctr-exec d2-run hostname
    assert_eq "$output" d2-host
    # its stdin is the pty (-i -t), not /dev/null
    run_host ctr-exec d2-run readlink /proc/1/fd/0
    assert_match "$output" "^/dev/pts/[0-9]+$"
    # USR1, not TERM (which the shell would not trap): exit 9 long before the 30 s timeout
    run_host ctr-stop d2-run
    assert_eq "$(cat "$CTRKIT_STATE/containers/d2-run/exit")" 9
    # an existing cid file is refused before anything is made
    run_host --rc 125 ctr-run --network none --cidfile "$TEST_DIR/cid" busybox true
    assert_error ctr-run "cidfile"
    # -h takes a value, as in Docker: never a help that runs nothing and exits 0
    run_host --rc 125 ctr-run --network none -h busybox
    assert_error ctr-run "no image given"
    run_host --rc 125 ctr-run --network none -h
    assert_error ctr-run "-h needs a value"
}

@test "ctr-ls: Docker's columns; -a, -q, -n, -l combine; --filter and --format; labels from --label and --label-file" {
    need_run
    printf 'tier=web\n# a comment\n\n' >"$TEST_DIR/labels"
    run_host ctr-run -d --network none --name d2-old -l app=a --label-file "$TEST_DIR/labels" busybox sh -c 'exit 4'
    run_tool ctr-wait d2-old
    sleep 1 # (creation times a second apart: newest first is then certain)
    counter d2-new --label app=b
    run_tool ctr-ls
    assert_match "$(printf '%s\n' "$output" | sed -n 1p)" "^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$"
    assert_match "$(printf '%s\n' "$output" | sed -n 2p)" "^[0-9a-f]{12} +busybox +\"sh -c i=0; while .* ago +Up .* +d2-new$"
    assert_eq "$(printf '%s\n' "$output" | grep -c '')" 2
    run_tool ctr-ls -aq
    assert_eq "$output" "$(cut -c1-12 "$CTRKIT_STATE/containers/d2-new/id")
$(cut -c1-12 "$CTRKIT_STATE/containers/d2-old/id")"
    run_tool ctr-ls -lq --no-trunc
    assert_eq "$output" "$(cat "$CTRKIT_STATE/containers/d2-new/id")"
    run_tool ctr-ls -n 2 --format '{{.Names}}\t{{.State}}\t{{.Status}}'
    assert_match "$output" "^d2-new	running	Up .*
d2-old	exited	Exited \(4\) .* ago$"
    run_tool ctr-ls -a -f label=tier=web --format '{{.Names}} {{.Labels}}'
    assert_eq "$output" "d2-old tier=web,app=a"
    run_tool ctr-ls -a -f label=app -f status=running --format '{{.Names}}'
    assert_eq "$output" d2-new
    run_tool ctr-ls -a --filter ancestor=busybox --filter name=old --format json
    assert_json .Names d2-old
    assert_json .State exited
    run_tool --rc 2 ctr-ls --filter colour=red
    assert_error ctr-ls "colour"
    run_tool --rc 2 ctr-ls --format '{{.Bogus}}'
    assert_error ctr-ls "Bogus"
}

@test "--restart on-failure:2 runs a failing command 3 times; always restarts after ctr-kill, ctr-stop stops it for good" {
    need_run
    run_host ctr-run -d --network none --restart on-failure:2 --name d2-fail busybox sh -c 'echo run; exit 3'
    # three runs, then no more (the back-off is 0.1 s, then 0.2 s)
    wait_for grep -qx 2 "$CTRKIT_STATE/containers/d2-fail/restart-count"
    wait_for state_is d2-fail exited
    sleep 1
    assert_eq "$(status_of d2-fail)" exited
    run_host ctr-logs d2-fail
    assert_eq "$output" "run
run
run"
    assert_eq "$(cat "$CTRKIT_STATE/containers/d2-fail/restart-count")" 2
    assert_eq "$(cat "$CTRKIT_STATE/containers/d2-fail/exit")" 3

    run_host ctr-run -d --network none --restart always --name d2-always busybox sh -c 'echo up; exec sleep 300'
    p1=$(cat "$CTRKIT_STATE/containers/d2-always/pid")
    run_host ctr-kill d2-always
    wait_for grep -qx 1 "$CTRKIT_STATE/containers/d2-always/restart-count"
    wait_for state_is d2-always running
    p2=$(cat "$CTRKIT_STATE/containers/d2-always/pid")
    [ "$p2" != "$p1" ]
    ! kill -0 "$p1" 2>/dev/null
    # ctr-stop: for good (it ignores TERM as pid 1: killed after the grace period)
    run_host ctr-stop -t 1 d2-always
    sleep 1
    assert_eq "$(status_of d2-always)" exited
    ! kill -0 "$p2" 2>/dev/null
    run_host ctr-logs d2-always
    assert_eq "$output" "up
up"
    run_host --rc 125 ctr-run --network none --restart always busybox true
    assert_error ctr-run "needs -d"
    run_host --rc 125 ctr-run -d --network none --restart sometimes busybox true
    assert_error ctr-run "sometimes"
}

@test "ctr-create makes without starting; ctr-start -a runs it and exits with its status; ctr-restart starts it again" {
    need_run
    run_host ctr-create --network none --name d2-c busybox sh -c 'echo hello $HOSTNAME; sleep 0.2; exit 5'
    assert_eq "$output" d2-c
    assert_eq "$(status_of d2-c)" created
    [ ! -e "$CTRKIT_STATE/containers/d2-c/pid" ]
    run_host --rc 5 ctr-start -a d2-c
    assert_eq "$output" "hello d2-c"
    assert_eq "$(status_of d2-c)" exited
    # an ended container starts again, in the same root filesystem
    run_host ctr-start d2-c
    run_tool ctr-wait d2-c
    assert_eq "$output" 5
    run_host ctr-logs d2-c
    assert_eq "$output" "hello d2-c
hello d2-c"
    run_host ctr-run -d --network none --name d2-r busybox sh -c 'date +%s%N >>/stamps; exec sleep 300'
    p1=$(cat "$CTRKIT_STATE/containers/d2-r/pid")
    run_host ctr-restart -t 1 d2-r
    assert_eq "$output" d2-r
    p2=$(cat "$CTRKIT_STATE/containers/d2-r/pid")
    [ "$p2" != "$p1" ]
    assert_eq "$(status_of d2-r)" running
    # the same writable layer: both starts wrote to one file
    run_host ctr-exec d2-r wc -l /stamps
    assert_match "$output" "^ *2 /stamps$"
}

@test "ctr-exec: -e KEY takes the value from here, --env-file, --privileged gets every capability, -d returns at once" {
    need_run
    counter d2-x
    printf 'FROMFILE=1\n# a comment\n\nHERE_TOO\n' >"$TEST_DIR/env"
    HERE_TOO="x y'z" HERE="h" run_host ctr-exec -e HERE -e NOT_SET --env-file "$TEST_DIR/env" d2-x \
        sh -c 'echo "$HERE|${NOT_SET-unset}|$FROMFILE|$HERE_TOO"'
    assert_eq "$output" "h|unset|1|x y'z"
    run_host ctr-exec d2-x grep CapEff /proc/self/status
    assert_eq "$output" "CapEff:	00000000a80425fb"
    run_host ctr-exec --privileged d2-x grep CapEff /proc/self/status
    assert_eq "$output" "CapEff:	$(grep CapBnd /proc/self/status | cut -f2)"
    run_host ctr-exec -d d2-x sh -c 'sleep 0.5; touch /detached'
    ! in_host test -e "$CTRKIT_STATE/containers/d2-x/merged/detached"
    wait_for in_host test -e "$CTRKIT_STATE/containers/d2-x/merged/detached"
    run_host --rc 2 ctr-exec -e 'bad key' d2-x true
    assert_error ctr-exec "bad key"
}

@test "ctr-logs -t shows when each line was written; --since and --until pick lines by it" {
    need_run
    run_host ctr-run -d --network none --name d2-t busybox sh -c 'echo early; sleep 2; echo late; sleep 300'
    wait_for grep -q late "$CTRKIT_ROOT/logs/d2-t/log"
    run_host ctr-logs -t d2-t
    assert_match "$output" "^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{9}Z early
20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{9}Z late$"
    late=$(printf '%s\n' "$output" | sed -n 2p | cut -d' ' -f1)
    run_host ctr-logs d2-t
    assert_eq "$output" "early
late"
    # the stamps are the times the lines were written: two seconds apart
    run_host ctr-logs --since "$late" d2-t
    assert_eq "$output" late
    run_host ctr-logs --until "$late" d2-t
    assert_eq "$output" early
    run_host ctr-logs --since "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" d2-t
    assert_eq "$output" ""
    run_host ctr-logs --since 1h -n 1 d2-t
    assert_eq "$output" late
    run_host --rc 2 ctr-logs --since yesterday-ish d2-t
    assert_error ctr-logs "yesterday-ish"
}

@test "ctr-cp both ways; an in-container absolute symlink never leads to the host; -a keeps owners" {
    need_run
    run_host ctr-run -d --network none --name d2-cp busybox sh -c \
        'mkdir -p /data/sub && echo inside >/data/sub/f && chown -R 1000:1000 /data && ln -s /etc /hostetc && ln -s /etc/passwd /pw && exec sleep 300'
    wait_for in_host test -L "$CTRKIT_STATE/containers/d2-cp/merged/pw"
    mkdir "$TEST_DIR/out"
    # out: a folder into an existing folder, by its own name; owners are ours without -a
    run_host ctr-cp d2-cp:/data "$TEST_DIR/out"
    assert_eq "$(cat "$TEST_DIR/out/data/sub/f")" inside
    assert_eq "$(stat -c %u "$TEST_DIR/out/data/sub/f")" 0
    run_host ctr-cp -a d2-cp:/data/sub/f "$TEST_DIR/out/f-kept"
    assert_eq "$(stat -c %u:%g "$TEST_DIR/out/f-kept")" 1000:1000
    # the container's symlink is copied as a symlink, not as the host's /etc/passwd
    run_host ctr-cp d2-cp:/pw "$TEST_DIR/out/pw"
    [ -L "$TEST_DIR/out/pw" ]
    assert_eq "$(readlink "$TEST_DIR/out/pw")" /etc/passwd
    # in: through /hostetc -> /etc, which is the container's /etc, never the host's
    echo from-host >"$TEST_DIR/note"
    run_host ctr-cp "$TEST_DIR/note" d2-cp:/hostetc/ctrkit-test-note
    [ ! -e /etc/ctrkit-test-note ]
    run_host ctr-exec d2-cp cat /etc/ctrkit-test-note
    assert_eq "$output" from-host
    run_host ctr-exec d2-cp stat -c %u /etc/ctrkit-test-note
    assert_eq "$output" 0
    # a symlink where a file is to be written is refused; the host file stays as it was
    cp /etc/passwd "$TEST_DIR/passwd.before"
    run_host --rc 1 ctr-cp "$TEST_DIR/note" d2-cp:/pw
    assert_error ctr-cp "symlink"
    cmp /etc/passwd "$TEST_DIR/passwd.before"
    run_host --rc 1 ctr-cp d2-cp:/no/such "$TEST_DIR/out/x"
    assert_error ctr-cp "/no/such"
    run_host --rc 2 ctr-cp "$TEST_DIR/note" "$TEST_DIR/other"
    assert_error ctr-cp "CONTAINER:PATH"
}

@test "a container in its restart back-off: ctr-stop and ctr-rm -f end the monitor at once" {
    need_run
    run_host ctr-run -d --network none --restart always --name d2-bo busybox false
    # five quick failures: the next wait is 3.2 s
    wait_for restarts_at_least d2-bo 5
    wait_for state_is d2-bo restarting
    run_host ctr-stop -t 1 d2-bo
    # within a second, not at the end of the 3.2 s wait
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        [ -e "$CTRKIT_STATE/containers/d2-bo/restarting" ] || break
        sleep 0.1
    done
    [ ! -e "$CTRKIT_STATE/containers/d2-bo/restarting" ]
    n=$(cat "$CTRKIT_STATE/containers/d2-bo/restart-count")
    sleep 4
    assert_eq "$(cat "$CTRKIT_STATE/containers/d2-bo/restart-count")" "$n"
    run_host ctr-start d2-bo
    wait_for restarts_at_least d2-bo $((n + 2))
    run_host ctr-rm -f d2-bo
    [ ! -e "$CTRKIT_STATE/containers/d2-bo" ]
    no_leftovers d2-bo host
}
