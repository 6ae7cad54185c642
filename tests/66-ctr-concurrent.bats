#!/usr/bin/env bats
# 30 `ctr-run --rm` at once, on the bridge with limits: all succeed, with distinct
# addresses, and leave nothing behind.

load helpers
load 60-ctr-helpers

setup_file() { ctr_setup_file; }
teardown_file() { ctr_teardown_file; }
teardown() { ctr_teardown; }
setup() { ctr_setup_host; }

@test "30 ctr-run --rm at once: all succeed, distinct addresses, nothing left" {
    need_net
    out=$TEST_DIR/par
    mkdir -p "$out"
    # the bridge and the image exist before the rush (one run made them)
    run_host ctr-run --rm busybox true
    pids=()
    for i in $(seq 1 30); do
        nsenter -t "$TEST_HOST_PID" -n -m ctr-run --rm --name "par$i" --cpus 0.2 --memory 32m --pids-limit 20 busybox \
            sh -c 'ip -4 -o addr show eth0' >"$out/$i.out" 2>"$out/$i.err" 3>&- &
        pids+=($!)
    done
    failed=0
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || { failed=$((failed + 1)); cat "$out/$((i + 1)).err" >&2; }
    done
    assert_eq "$failed" 0 "ctr-run failures"
    addrs=$(cat "$out"/*.out | grep -oE 'inet [0-9.]+' | sort)
    assert_eq "$(printf '%s\n' "$addrs" | grep -c inet)" 30
    assert_eq "$(printf '%s\n' "$addrs" | sort -u | grep -c inet)" 30 "duplicate addresses: $addrs"
    [ -z "$(ls -A "$CTRKIT_STATE/containers")" ]
    host_veths 0
    run_host netbridge leases ctrkit0 --json
    assert_json length 0
    for i in $(seq 1 30); do no_leftovers "par$i" host; done
}
