#!/usr/bin/env bats
# ctr-ps procs / which / ns / inspect / top, checked against ps inside the container,
# /proc/PID/stat parentage, readlink of ns links, ip inside the namespace and real CPU use.

load helpers
load 50-ctr-ps-lib

setup_file() {
    ctrkit_setup_file
    [ "$(id -u)" != 0 ] || make_bundle_rootfs
}

teardown() {
    oci_cleanup
    ctrkit_teardown
}

# a container with a small process tree: sh -> (sh -> sleep), sleep
start_tree() {
    start_unshare -fp --mount-proc -- sh -c 'sh -c "sleep 301; :" & sleep 302 & wait'
    local i=0
    while [ "$(pgrep -c -P "$CTR_PID")" -lt 2 ] || ! pgrep -fx 'sleep 301' >/dev/null; do
        i=$((i + 1)); [ $i -lt 100 ] || { echo "tree did not start" >&2; return 1; }
        sleep 0.05
    done
}

@test "procs: in-container PIDs are what ps prints inside, host PIDs and uids are right" {
    require_root
    start_tree
    id=$(ctr-ps -q --no-trunc --filter "pid=$CTR_PID")
    run_tool ctr-ps procs "$id" --json
    assert_json length 4
    inside=$(nsenter -t "$CTR_PID" -p -m ps -eo pid=,args= | grep -v ' ps -eo' | awk '{$1=$1; print}' | sort)
    ours=$(printf '%s' "$output" | jq -r '.[] | "\(.container_pid) \(.command)"' | sort)
    assert_eq "$ours" "$inside"
    # host pids, ppids and uids as the kernel has them
    printf '%s' "$output" | jq -r '.[] | "\(.pid) \(.ppid) \(.uid) \(.container_uid) \(.state)"' |
        while read -r pid ppid uid cuid state; do
            assert_eq "$ppid" "$(awk '{print $4}' "/proc/$pid/stat")" "ppid of $pid"
            assert_eq "$uid" "$(awk '/^Uid:/{print $2}' "/proc/$pid/status")" "uid of $pid"
            assert_eq "$cuid" "$uid" "no user namespace: same uid inside"
            assert_eq "$state" "$(awk '{print $3}' "/proc/$pid/stat")" "state of $pid"
        done
    # the init is pid 1 inside
    assert_json ".[] | select(.pid == $CTR_PID) | .container_pid" 1
}

@test "procs --tree: each row's parent is the nearest row above it one level up" {
    require_root
    start_tree
    run_tool ctr-ps procs "$(ctr-ps -q --filter "pid=$CTR_PID")" --tree --json
    echo "$output" >"$TEST_DIR/tree.json"
    ps -eo pid,ppid,stat,args >"$TEST_DIR/ps.txt"
    # depth-first order: a row at depth d>0 has as parent the last row before it at depth d-1
    printf '%s' "$output" | jq -r '.[] | "\(.pid) \(.depth)"' | {
        declare -A last
        n=0
        while read -r pid depth; do
            n=$((n + 1))
            if [ "$depth" -gt 0 ]; then
                assert_eq "${last[$((depth - 1))]}" "$(awk '{print $4}' "/proc/$pid/stat")" "parent of $pid"
            else
                assert_eq "$pid" "$CTR_PID" "the only top process is the init"
            fi
            last[$depth]=$pid
        done
        assert_eq "$n" 4
    }
    # the text form draws it
    run_tool ctr-ps procs "$(ctr-ps -q --filter "pid=$CTR_PID")" --tree --no-headers
    leaf=$(pgrep -fx 'sleep 301')
    assert_match "$(printf '%s\n' "$output" | awk -v p="$leaf" '$1 == p')" '  \\_ sleep 301$'
}

@test "which: the owning container, and the PID inside; a host PID; a missing PID fails after the rest" {
    require_root
    start_tree
    leaf=$(pgrep -fx 'sleep 301')
    run_tool --rc 1 ctr-ps which --json "$leaf" $$ 999999999
    assert_error ctr-ps "no process 999999999"
    assert_json length 2
    assert_json '.[0].id' "$(ctr-ps -q --no-trunc --filter "pid=$CTR_PID")"
    assert_json '.[0].runtime' unshare
    assert_json '.[0].container_pid' "$(awk '/^NSpid:/{print $NF}' "/proc/$leaf/status")"
    assert_json '.[1].runtime' host
    assert_json '.[1].id' null
}

@test "ns: every namespace like lsns, with its owning container" {
    require_root
    start_unshare -fpn --mount-proc -- sleep 300
    netns=$(stat -L -c %i "/proc/$CTR_PID/ns/net")
    run_tool ctr-ps ns --type net --json
    assert_json "[.[] | select(.ns == $netns)][0].container_id" "$(ctr-ps -q --no-trunc --filter "pid=$CTR_PID")"
    # like lsns: the lowest pid in it, here the unshare launcher (it made the namespace)
    assert_json "[.[] | select(.ns == $netns)][0].pid" "$LAUNCHER_PID"
    assert_json "[.[] | select(.ns == $(stat -L -c %i /proc/self/ns/net))][0].runtime" host
    assert_json '[.[] | .type] | unique | join(",")' net
    # the container's namespace as lsns sees it, with the same process count (lsns also
    # counts kernel threads, which ctr-ps leaves out: compare the container's only)
    assert_eq "$(printf '%s' "$output" | jq -r ".[] | select(.ns == $netns) | \"\\(.ns) \\(.nprocs)\"")" \
        "$(lsns -t net -n -o NS,NPROCS | awk -v n="$netns" '$1 == n {print $1, $2}')"
}

@test "inspect --json (runc): namespaces, cgroup usage and limit, mounts, addresses, capabilities, no_new_privs" {
    require_root
    require_cmd runc
    id="ctrps-insp-$$"
    b=$(oci_bundle "$id" sleep 300)
    jq '.linux.resources.memory.limit = 67108864' "$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
    echo "runc $id" >>"$TEST_DIR/oci-ids"
    runc run -d --bundle "$b" "$id" </dev/null >/dev/null 2>&1 3>&-
    pid=$(runc state "$id" | jq -r .pid)
    track_pid "$pid"
    # an address on a veth pair made inside the container's own network namespace
    nsenter -t "$pid" -n ip link add ctrps0 type veth peer name ctrps1
    nsenter -t "$pid" -n ip addr add 10.199.7.5/24 dev ctrps0
    nsenter -t "$pid" -n ip link set ctrps0 up
    run_tool ctr-ps inspect "$id" --json
    for k in mnt uts ipc net pid; do
        assert_json ".namespaces.$k" "$(stat -L -c %i "/proc/$pid/ns/$k")"
    done
    assert_json .cgroup.path "/$TEST_CGROUP/$id"
    assert_json .cgroup.usage.memory_max_bytes 67108864
    assert_json '.cgroup.usage.memory_current_bytes > 0' true
    assert_json '.cgroup.usage.pids_current' 1
    assert_json '[.mounts[] | select(.mount_point == "/")][0].source | length > 0' true
    assert_json '[.mounts[] | .mount_point] | index("/proc") != null' true
    assert_json '[.interfaces[] | select(.name == "ctrps0")][0].ipv4[0]' 10.199.7.5/24
    assert_json '[.interfaces[] | select(.name == "lo")][0].ipv4[0]' 127.0.0.1/8
    # runc's default spec: no_new_privs, Docker's default capabilities, no seccomp
    assert_json .no_new_privs true
    assert_json .seccomp disabled
    assert_json '.capabilities.effective | index("cap_net_bind_service") != null' true
    assert_json '.capabilities.effective | index("cap_sys_admin")' null
    want_eff=$(awk '/^CapEff:/{print $2}' "/proc/$pid/status")
    [ "$want_eff" = 00000000000004fb ] || assert_json '.capabilities.effective | length > 0' true
    assert_json '.uid_map[0].count' 4294967295
    # the list shows the address and the text form of inspect says the same: the lowest
    # not on lo (a lower one on lo, even inside ctrps0's subnet, is not the container's)
    nsenter -t "$pid" -n ip addr add 10.199.7.2/32 dev lo
    nsenter -t "$pid" -n ip addr add 10.199.7.9/24 dev ctrps0
    run_tool ctr-ps -o ip --no-headers --filter "id=$id"
    assert_eq "$output" 10.199.7.5
    run_tool ctr-ps inspect "$id"
    assert_contains "$output" "cgroup.usage.memory_max_bytes = 67108864"
    assert_contains "$output" "no_new_privs = true"
}

@test "top: CPU% of a busy container over the interval, memory, --jsonl lines per sample" {
    require_root
    start_unshare -fp --mount-proc -- sh -c 'while :; do :; done'
    busy=$CTR_PID
    start_unshare -fp --mount-proc -- sleep 300
    idle=$CTR_PID
    run_tool ctr-ps top --interval 300ms --count 2 --jsonl
    b=$(printf '%s\n' "$output" | jq -s -c --argjson p "$busy" '[.[] | select(.pid == $p)]')
    i=$(printf '%s\n' "$output" | jq -s -c --argjson p "$idle" '[.[] | select(.pid == $p)]')
    assert_json length 2 "$b"
    assert_json '.[1].cpu_percent > 20' true "$b"
    assert_json '.[1].cpu_percent < 5' true "$i"
    assert_json '.[1].rss_bytes > 0' true "$i"
    # one container by id; the table form
    idle_id=$(ctr-ps -q --filter "pid=$idle")
    [ -n "$idle_id" ] || { ctr-ps --filter "pid=$idle"; ctr-ps; cat "/proc/$idle/status"; return 1; } >&2
    run_tool ctr-ps top "$idle_id" -i 100ms -n 1
    assert_eq "$(printf '%s\n' "$output" | grep -c .)" 2
    assert_contains "$output" "CPU%"
}
