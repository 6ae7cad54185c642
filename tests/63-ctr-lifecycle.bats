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

    run_tool ctr-ls
    assert_contains "$output" web
    run_tool ctr-ls -a
    assert_match "$output" "web +running +busybox"

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
