#!/usr/bin/env bats
# Other runtimes' live containers, known by the names those runtimes gave them: ctr-ps reads
# each runtime's own records (no daemon is asked), and nsenter-rs --container finds them by
# name. Real runtimes with every root under the test dir: runc (with Kubernetes CRI
# annotations), Podman, Docker (dockerd started here, or skipped with the reason),
# containerd (likewise).

load helpers
load 50-ctr-ps-lib

setup_file() {
    ctrkit_setup_file
    [ "$(id -u)" != 0 ] || make_bundle_rootfs
}

teardown() {
    oci_cleanup
    podman_cleanup
    dockerd_stop
    containerd_stop
    rm -rf "$CTRKIT_STATE/containers"
    ctrkit_teardown
}

# pid_ns_of PID : the inode of PID's pid namespace
pid_ns_of() {
    stat -L -c %i "/proc/$1/ns/pid"
}

@test "a runc container with containerd's CRI annotations is web-0/app in pod namespace prod; CRI-O's are read too" {
    require_root
    require_cmd runc
    export RUNC_ROOT=$TEST_DIR/runc-root
    OCI_JQ='.hostname = "web-0" | .annotations = {
        "io.kubernetes.cri.container-type": "container",
        "io.kubernetes.cri.sandbox-name": "web-0",
        "io.kubernetes.cri.sandbox-namespace": "prod",
        "io.kubernetes.cri.container-name": "app",
        "io.kubernetes.cri.image-name": "registry.local/app:1"}' \
        runc_start "ctrps54-cri-$$" sleep 300
    cri_pid=$RUNC_PID
    OCI_JQ='.annotations = {
        "io.kubernetes.cri-o.ContainerType": "container",
        "io.kubernetes.pod.name": "db-0",
        "io.kubernetes.pod.namespace": "stage",
        "io.kubernetes.container.name": "pg"}' \
        runc_start "ctrps54-crio-$$" sleep 300
    crio_pid=$RUNC_PID
    # runc keeps its state under a root of ours: without it, no names
    run_tool ctr-ps --json
    assert_json "[.[] | select(.pid == $cri_pid)][0].name" null
    run_tool ctr-ps --json --runtime-root "$RUNC_ROOT"
    row=$(printf '%s' "$output" | jq -c --argjson p "$cri_pid" '.[] | select(.pid == $p)')
    assert_json .name web-0/app "$row"
    assert_json '[.pod, .pod_namespace, .container_name] | join(" ")' "web-0 prod app" "$row"
    assert_json .image registry.local/app:1 "$row"
    assert_json .runtime runc "$row"
    assert_json "[.[] | select(.pid == $crio_pid)][0] | [.name, .pod_namespace] | join(\" \")" "db-0/pg stage"
    # NAME column, filters by pod and pod namespace
    run_tool ctr-ps --runtime-root "$RUNC_ROOT" --no-headers -o name,pod,pod_namespace --filter namespace=prod
    assert_eq "$(echo "$output" | tr -s ' ')" "web-0/app web-0 prod"
    run_tool ctr-ps --runtime-root "$RUNC_ROOT" -q --filter pod=db-0 --filter namespace=prod
    assert_eq "$output" ""
    # which names it the same way, nsenter-rs finds it by that name (roots from the environment)
    export CTRKIT_RUNTIME_ROOT=$RUNC_ROOT
    run_tool ctr-ps which --json "$cri_pid"
    assert_json '.[0].name' web-0/app
    run_tool nsenter-rs --container web-0/app hostname
    assert_eq "$output" web-0
}

@test "a Podman container is listed by its name; nsenter-rs --container NAME enters it" {
    require_root
    require_cmd podman runc
    podman_setup
    run_tool podman run -d --name pweb --hostname pweb-host --network none \
        --cgroup-parent "$PODMAN_CGROUP" "$PODMAN_IMAGE" /bin/sleep 300
    id=$output
    pid=$(podman inspect pweb --format '{{.State.Pid}}')
    track_pid "$pid"
    # no root given: conmon's bundle leads to containers/storage's records
    run_tool ctr-ps --json --no-trunc
    row=$(printf '%s' "$output" | jq -c --argjson p "$pid" '.[] | select(.pid == $p)')
    assert_json '[.id, .name, .runtime] | join(" ")' "$id pweb podman" "$row"
    assert_json .image "localhost/$PODMAN_IMAGE:latest" "$row"
    assert_json .hostname pweb-host "$row"
    assert_json '.created | test("^[0-9]{4}-")' true "$row"
    run_tool ctr-ps --filter name=pweb --no-headers -o name,runtime,pid
    assert_eq "$(echo "$output" | tr -s ' ')" "pweb podman $pid"
    run_tool ctr-ps which "$pid" --no-headers
    assert_eq "$(echo "$output" | awk '{print $3, $4, $5}')" "pweb podman 1"
    run_tool nsenter-rs --container pweb hostname
    assert_eq "$output" pweb-host
    run_tool nsenter-rs --container pweb -a sh -c 'echo $$; readlink /proc/self/ns/pid'
    inner=$(echo "$output" | head -1)
    assert_match "$inner" '^[0-9]+$'
    [ "$inner" -lt 100 ] || { echo "pid $inner is not a pid inside the container" >&2; return 1; }
    assert_eq "$(echo "$output" | tail -1)" "pid:[$(pid_ns_of "$pid")]"
}

@test "a Docker container is listed by its name, image, status and ports; nsenter-rs --container NAME enters it" {
    require_root
    require_cmd dockerd docker runc
    dockerd_start || skip "$DOCKERD_WHY"
    make_bundle_rootfs
    [ -f "$TEST_DIR/rootfs.tar" ] || tar -C "$TEST_DIR/rootfs" -cf "$TEST_DIR/rootfs.tar" .
    run_tool docker import "$TEST_DIR/rootfs.tar" ctrps54:1
    run_tool docker run -d --name dweb --hostname dweb-host --network none -p 8080:80 \
        ctrps54:1 /bin/sleep 300
    id=$output
    pid=$(docker inspect dweb --format '{{.State.Pid}}')
    track_pid "$pid"
    # nothing configured: the shim's bundle mounts /etc/hostname from Docker's container folder
    run_tool ctr-ps --json --no-trunc
    row=$(printf '%s' "$output" | jq -c --argjson p "$pid" '.[] | select(.pid == $p)')
    assert_json '[.id, .name, .runtime] | join(" ")' "$id dweb docker" "$row"
    assert_json '[.image, .status, .hostname] | join(" ")' "ctrps54:1 running dweb-host" "$row"
    assert_json '.ports | join(",")' "0.0.0.0:8080->80/tcp" "$row"
    run_tool ctr-ps which "$pid" --no-headers
    assert_eq "$(echo "$output" | awk '{print $3, $4, $5}')" "dweb docker 1"
    run_tool nsenter-rs --container dweb hostname
    assert_eq "$output" dweb-host
    run_tool nsenter-rs --container dweb -a sh -c 'echo $$; readlink /proc/self/ns/pid'
    inner=$(echo "$output" | head -1)
    assert_match "$inner" '^[0-9]+$'
    [ "$inner" -lt 100 ] || { echo "pid $inner is not a pid inside the container" >&2; return 1; }
    assert_eq "$(echo "$output" | tail -1)" "pid:[$(pid_ns_of "$pid")]"
}

@test "a containerd task is named by nerdctl's annotation in its bundle; nsenter-rs --container NAME enters it" {
    require_root
    require_cmd containerd ctr runc
    containerd_start || skip "$CTD_WHY"
    make_bundle_rootfs
    run_tool "${CTD[@]}" run -d --cgroup "/$TEST_CGROUP/containerd/cweb" \
        --annotation nerdctl/name=cweb --rootfs "$TEST_DIR/rootfs" ctrps54-cweb /bin/sleep 300
    pid=$("${CTD[@]}" task ls | awk '$1 == "ctrps54-cweb" {print $2}')
    assert_match "$pid" '^[0-9]+$'
    track_pid "$pid"
    # nothing configured: its shim's folder is the bundle, whose config.json has the name
    run_tool ctr-ps --json --no-trunc
    row=$(printf '%s' "$output" | jq -c --argjson p "$pid" '.[] | select(.pid == $p)')
    assert_json '[.id, .name, .runtime] | join(" ")' "ctrps54-cweb cweb containerd" "$row"
    run_tool ctr-ps which "$pid" --no-headers
    assert_eq "$(echo "$output" | awk '{print $3, $4}')" "cweb containerd"
    run_tool nsenter-rs --container cweb -p -m sh -c 'echo $$; cat /proc/1/cmdline | tr "\0" " "'
    assert_match "$(echo "$output" | head -1)" '^[0-9]+$'
    assert_eq "$(echo "$output" | tail -1)" "/bin/sleep 300 "
}

@test "an ID prefix or a name shared by two containers is an error listing both, never the first" {
    require_root
    require_cmd runc
    a="ctrps54-pfx-$$-a1"
    b="ctrps54-pfx-$$-b1"
    ann='.annotations = {"io.kubernetes.cri.sandbox-name": "twin", "io.kubernetes.cri.container-name": "c"}'
    OCI_JQ=$ann runc_start "$a" sleep 300
    pid_a=$RUNC_PID
    OCI_JQ=$ann runc_start "$b" sleep 300
    pid_b=$RUNC_PID
    for q in "ctrps54-pfx-$$-" twin/c; do
        run_tool --rc 1 ctr-ps --pid "$q"
        assert_error ctr-ps "ambiguous"
        # shellcheck disable=SC2154 # run_tool sets stderr
        assert_contains "$stderr" "pid $pid_a"
        assert_contains "$stderr" "pid $pid_b"
        run_tool --rc 125 nsenter-rs --container "$q" -u true
        assert_error nsenter-rs "ambiguous"
        assert_contains "$stderr" "pid $pid_a"
        assert_contains "$stderr" "pid $pid_b"
    done
    # a full ID is not ambiguous, and neither is a prefix only one has
    run_tool ctr-ps --pid "$a"
    assert_eq "$output" "$pid_a"
    run_tool nsenter-rs --container "ctrps54-pfx-$$-b" -p -m sh -c 'cat /proc/1/cmdline | tr "\0" " "'
    assert_eq "$output" "sleep 300 "
}

@test "a stale ctrkit pidfile (its pid now another process) names no container" {
    require_root
    start_unshare -p -f --mount-proc -- sleep 300
    mkdir -p "$CTRKIT_STATE/containers/old"
    echo "$CTR_PID" >"$CTRKIT_STATE/containers/old/pid"
    run_tool ctr-ps --pid old
    assert_eq "$output" "$CTR_PID"
    # the same pid, but the file was written before that process started: a reused pid
    touch -d '-1 hour' "$CTRKIT_STATE/containers/old/pid"
    run_tool --rc 1 ctr-ps --pid old
    assert_error ctr-ps "not running"
    assert_contains "$stderr" "started after"
    run_tool ctr-ps --json
    assert_json "[.[] | select(.pid == $CTR_PID)][0] | [.runtime, (.name // \"-\")] | join(\" \")" "unshare -"
    run_tool --rc 125 nsenter-rs --container old -u true
    assert_error nsenter-rs "not running"
}
