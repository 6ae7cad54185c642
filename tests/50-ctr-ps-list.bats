#!/usr/bin/env bats
# ctr-ps: the container list finds real containers of several runtimes, with the right
# runtime, ID and init PID, and nothing where there is nothing.

load helpers
load 50-ctr-ps-lib

setup_file() {
    ctrkit_setup_file
    [ "$(id -u)" != 0 ] || make_bundle_rootfs
}

teardown() {
    oci_cleanup
    rm -rf "$CTRKIT_STATE/containers"
    ctrkit_teardown
}

@test "an 'unshare -fp --mount-proc' container: runtime unshare, init = the child, launcher folded in" {
    require_root
    start_unshare -fp --mount-proc -- sleep 300
    run_tool ctr-ps --json
    row=$(printf '%s' "$output" | jq -c --argjson p "$CTR_PID" '.[] | select(.pid == $p)')
    [ -n "$row" ] || { echo "no container with init $CTR_PID in: $output" >&2; return 1; }
    assert_json .runtime unshare "$row"
    assert_json .launcher_pid "$LAUNCHER_PID" "$row"
    assert_json .command "sleep 300" "$row"
    assert_json '.namespaces | sort | join(",")' "mnt,pid" "$row"
    # the launcher is no container of its own
    assert_json "[.[] | select(.pid == $LAUNCHER_PID)] | length" 0
    # the synthetic id is stable across scans
    id=$(printf '%s' "$row" | jq -r .id)
    assert_match "$id" '^[0-9a-f]{64}$'
    run_tool ctr-ps -q --no-trunc --filter "pid=$CTR_PID"
    assert_eq "$output" "$id"
    # namespace inodes are the kernel's
    assert_json .ns_pid "$(stat -L -c %i "/proc/$CTR_PID/ns/pid")" "$row"
    assert_json .ns_mnt "$(stat -L -c %i "/proc/$CTR_PID/ns/mnt")" "$row"
    assert_json .shares_host_net true "$row"
}

@test "a 'runc run -d' container: runtime runc, its id and init pid" {
    require_root
    require_cmd runc
    id="ctrps-$$-$BATS_TEST_NUMBER"
    runc_start "$id" sleep 300
    run_tool ctr-ps --no-trunc --filter runtime=runc -o id,runtime,pid,command
    assert_contains "$output" "$id"
    line=$(printf '%s\n' "$output" | awk -v id="$id" '$1 == id')
    assert_eq "$(echo "$line" | awk '{print $2, $3, $4, $5}')" "runc $RUNC_PID sleep 300"
    # its cgroup is its own, so MEM comes from the cgroup
    run_tool ctr-ps --json --filter "id=$id"
    assert_json '.[0].cgroup' "/$TEST_CGROUP/$id"
    assert_json '.[0].memory_current_bytes | type' number
    assert_json '.[0].namespaces | sort | join(",")' "ipc,mnt,net,pid,uts"
    # ID is 12 characters unless --no-trunc
    run_tool ctr-ps -q --filter "id=$id"
    assert_eq "$output" "${id:0:12}"
}

@test "a 'crun run -d' container: runtime crun" {
    require_root
    require_cmd crun runc
    id="ctrps-crun-$$"
    crun_start "$id" sleep 300 || skip "crun cannot run here: $(head -c 200 "$TEST_DIR/crun.err")"
    run_tool ctr-ps --json --no-trunc
    assert_json "[.[] | select(.pid == $CRUN_PID)][0] | [.runtime, .id] | join(\" \")" "crun $id"
}

@test "a ctrkit state folder names its container (runtime ctrkit), and --pid NAME prints its init" {
    require_root
    start_unshare -fp --mount-proc --uts -- sleep 300
    mkdir -p "$CTRKIT_STATE/containers/web"
    echo "$CTR_PID" >"$CTRKIT_STATE/containers/web/pid"
    run_tool ctr-ps --filter name=web -o name,runtime,pid
    assert_eq "$(printf '%s\n' "$output" | tail -n +2 | awk '{print $1, $2, $3}')" "web ctrkit $CTR_PID"
    run_tool ctr-ps --pid web
    assert_eq "$output" "$CTR_PID"
    # the pid it prints really is the container's init: pid 1 inside
    assert_eq "$(nsenter -t "$output" -p -m ps -o pid= -p 1 | tr -d ' ')" 1
    # a stale state folder (dead pid) is not a container
    echo 999999 >"$CTRKIT_STATE/containers/stale/pid" 2>/dev/null || {
        mkdir -p "$CTRKIT_STATE/containers/stale"
        echo 999999 >"$CTRKIT_STATE/containers/stale/pid"
    }
    run_tool --rc 1 ctr-ps --pid stale
    assert_error ctr-ps "ctrkit container 'stale' is not running: its process 999999 is gone"
}

@test "a container made by 'nsenter-rs --new' with a ctrkit state folder" {
    require_root
    mkdir -p "$CTRKIT_STATE/containers/nsnew"
    nsenter-rs --new=pid,mnt,uts,ipc,net --mount-proc --pidfile "$CTRKIT_STATE/containers/nsnew/pid" \
        -- sleep 300 </dev/null >/dev/null 2>&1 3>&- &
    track_pid $!
    local i=0
    while [ ! -s "$CTRKIT_STATE/containers/nsnew/pid" ]; do
        i=$((i + 1)); [ $i -lt 100 ] || { echo "nsenter-rs wrote no pidfile" >&2; return 1; }
        sleep 0.05
    done
    pid=$(cat "$CTRKIT_STATE/containers/nsnew/pid")
    track_pid "$pid"
    run_tool ctr-ps --json --filter name=nsnew
    assert_json 'length' 1
    assert_json '.[0].runtime' ctrkit
    init=$(printf '%s' "$output" | jq -r '.[0].pid')
    # its init is pid 1 of the container's pid namespace
    assert_eq "$(awk '/^NSpid:/{print $NF}' "/proc/$init/status")" 1
    assert_json '.[0].command' "sleep 300"
}

@test "no containers: none listed in a fresh pid+mount namespace, one after starting one there" {
    require_root
    run_tool unshare -fp --mount-proc "$CTRKIT_BIN/ctr-ps" -q
    assert_eq "$output" ""
    run_tool unshare -fp --mount-proc "$CTRKIT_BIN/ctr-ps" --json
    assert_json length 0
    run_tool unshare -fp --mount-proc --kill-child sh -c \
        "unshare -fp --mount-proc --kill-child sleep 300 >/dev/null 3>&- & sleep 0.5; '$CTRKIT_BIN/ctr-ps' --json; kill -KILL \$!"
    assert_json length 1
    assert_json '.[0].command' "sleep 300"
    # and a filter that matches nothing lists nothing
    run_tool ctr-ps -q --filter "name=no-such-container-$$"
    assert_eq "$output" ""
}

@test "--filter ancestor= and ns=, -o columns, --no-headers, --jsonl" {
    require_root
    start_unshare -fpn --mount-proc -- sleep 300
    netns=$(stat -L -c %i "/proc/$CTR_PID/ns/net")
    run_tool ctr-ps -q --no-trunc --filter "ns=$netns"
    one=$output
    assert_eq "$(printf '%s\n' "$one" | grep -c .)" 1
    run_tool ctr-ps -q --no-trunc --filter "ancestor=$$"
    assert_contains "$output" "$one"
    run_tool ctr-ps -q --filter "ancestor=$$" --filter "ns=1"
    assert_eq "$output" ""
    run_tool ctr-ps --no-headers -o pid,namespaces --filter "ns=$netns"
    assert_eq "$output" "$CTR_PID   net,pid,mnt"
    run_tool ctr-ps --jsonl --filter "ns=$netns"
    assert_eq "$(printf '%s\n' "$output" | wc -l)" 1
    assert_json .pid "$CTR_PID"
}

@test "--json has every documented key, null when unknown" {
    require_root
    start_unshare -fp --mount-proc -- sleep 300
    run_tool ctr-ps --json --filter "pid=$CTR_PID"
    keys=$(printf '%s' "$output" | jq -r '.[0] | keys_unsorted | join(",")')
    assert_eq "$keys" "id,name,runtime,pid,launcher_pid,command,started_at,uptime_seconds,pids,memory_current_bytes,memory_max_bytes,rss_bytes,cpu_usage_usec,ip,namespaces,shares_host_pid,shares_host_net,ns_mnt,ns_uts,ns_ipc,ns_net,ns_pid,ns_user,ns_cgroup,ns_time,cgroup,pod,pod_namespace,container_name,image,status,created,ports,hostname"
    assert_json '.[0].name' null
    assert_json '.[0].pids' 1
    assert_match "$(printf '%s' "$output" | jq -r '.[0].started_at')" '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$'
    # the table marks a container sharing the host's network namespace
    run_tool ctr-ps --no-headers -o namespaces --filter "pid=$CTR_PID"
    assert_eq "$output" "pid,mnt !host:net"
}

@test "bad input: unknown field, filter key, ambiguous or unknown container; nothing printed on stdout" {
    run_tool --rc 2 ctr-ps -o id,colour
    assert_error ctr-ps "unknown field 'colour'"
    run_tool --rc 2 ctr-ps --filter colour=red
    assert_error ctr-ps "unknown filter key 'colour'"
    run_tool --rc 2 ctr-ps --filter pid=abc
    assert_error ctr-ps "--filter"
    run_tool --rc 2 ctr-ps --json --jsonl
    assert_error ctr-ps "--jsonl"
    run_tool --rc 1 ctr-ps --pid "no-such-container-$$"
    assert_error ctr-ps "no container 'no-such-container-$$'"
    assert_eq "$output" ""
    run_tool --rc 1 ctr-ps inspect "zz-no-such-$$"
    assert_error ctr-ps "no container"
    run_tool --rc 2 ctr-ps top --interval 5
    assert_error ctr-ps "no unit"
}

@test "an ambiguous ID prefix is a clear error naming the candidates" {
    require_root
    require_cmd runc
    runc_start "ctrpsamb-$$-a" sleep 300
    runc_start "ctrpsamb-$$-b" sleep 300
    run_tool --rc 1 ctr-ps --pid "ctrpsamb-$$"
    assert_error ctr-ps "ambiguous"
    # shellcheck disable=SC2154 # run_tool sets stderr
    assert_contains "$stderr" "ctrpsamb-$$-a (runc, pid "
    assert_contains "$stderr" "ctrpsamb-$$-b (runc, pid "
    # the full id resolves
    run_tool ctr-ps --pid "ctrpsamb-$$-b"
    assert_eq "$output" "$RUNC_PID"
}

@test "the cgroup path names the runtime before runtime state: a runc container in .../libpod-ID.scope is podman's" {
    require_root
    require_cmd runc
    # podman and docker are not run here; their cgroup naming is: a runc container placed
    # in such a cgroup must be reported by the cgroup's name, with the id from the path
    hex=$(printf '%s' "ctrps-$$" | sha256sum | cut -c1-64)
    id="ctrps-pod-$$"
    b=$(oci_bundle "$id" sleep 300)
    jq --arg cg "/$TEST_CGROUP/libpod-$hex.scope" '.linux.cgroupsPath = $cg' "$b/config.json" >"$b/c"
    mv "$b/c" "$b/config.json"
    echo "runc $id" >>"$TEST_DIR/oci-ids"
    runc run -d --bundle "$b" "$id" </dev/null >/dev/null 2>&1 3>&-
    pid=$(runc state "$id" | jq -r .pid)
    track_pid "$pid"
    run_tool ctr-ps --json --filter "pid=$pid"
    assert_json '.[0].runtime' podman
    assert_json '.[0].id' "$hex"
    assert_json '.[0].cgroup' "/$TEST_CGROUP/libpod-$hex.scope"
}

@test "without root: exit 0, its own user's containers, a note on stderr that the rest needs root" {
    require_root
    start_unshare -fp --mount-proc -- sleep 300
    nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    "${nobody[@]}" test -x "$CTRKIT_BIN/ctr-ps" || skip "nobody cannot run $CTRKIT_BIN/ctr-ps"
    run_tool "${nobody[@]}" "$CTRKIT_BIN/ctr-ps" --json
    assert_contains "$stderr" "ctr-ps: warning: not root"
    assert_contains "$stderr" "need root"
    assert_json "[.[] | select(.pid == $CTR_PID)] | length" 0
    # nobody's own container (a user namespace it made) is listed
    # (unshare --fork ignores SIGTERM: SIGKILL it, and --kill-child takes the sleep along)
    run_tool "${nobody[@]}" sh -c "unshare -Ur --fork --kill-child sleep 300 >/dev/null 3>&- & sleep 0.5; '$CTRKIT_BIN/ctr-ps' --json; kill -KILL \$!"
    # (unshare made the user namespace and stays in it: it is that container's init)
    assert_json '[.[] | select((.command | endswith("sleep 300")) and .namespaces == ["user"])] | length' 1
}
