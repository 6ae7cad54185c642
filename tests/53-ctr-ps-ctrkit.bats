#!/usr/bin/env bats
# ctr-ps sees the containers of ctrkit's own launcher (ctr-run), named from its state dir.

load helpers
load 60-ctr-helpers

setup_file() { ctr_setup_file; }
teardown_file() { ctr_teardown_file; }
teardown() { ctr_teardown; }

@test "a 'ctr-run -d' container: runtime ctrkit, its name, its init, its cgroup's limit; ctr-ls lists it" {
    need_run
    run_tool ctr-run -d --network none --name psweb --memory 64m busybox sleep 300
    run_tool ctr-ps --json --filter name=psweb
    assert_json length 1
    assert_json '.[0].runtime' ctrkit
    assert_json '.[0].name' psweb
    assert_json '.[0].memory_max_bytes' $((64 * 1024 * 1024))
    assert_json '[.[0].namespaces[] | select(. == "pid" or . == "mnt")] | length' 2
    pid=$(printf '%s' "$output" | jq -r '.[0].pid')
    # its init is the command, pid 1 (or 2 under an init) inside, in the launcher's cgroup
    assert_contains "$(tr '\0' ' ' <"/proc/$pid/cmdline")" "sleep 300"
    assert_match "$(awk '/^NSpid:/{print $NF}' "/proc/$pid/status")" '^[12]$'
    assert_contains "$(cat "/proc/$pid/cgroup")" "$CTRKIT_CGROUP_PARENT/psweb"
    run_tool ctr-ps --pid psweb
    assert_eq "$output" "$pid"
    # ctr-ps --filter runtime=ctrkit: only ctrkit's; ctr-ls lists it by the same ID
    run_tool ctr-ps --filter runtime=ctrkit -o name,runtime --no-headers
    assert_contains "$output" "psweb   ctrkit"
    run_tool ctr-ps --filter runtime=ctrkit -q
    want=$output
    run_tool ctr-ls -q
    assert_eq "$output" "$want"
    run_tool ctr-rm -f psweb
    no_leftovers psweb
    run_tool ctr-ps -q --filter name=psweb
    assert_eq "$output" ""
}
