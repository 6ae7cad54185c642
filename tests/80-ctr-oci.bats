#!/usr/bin/env bats
# ctr-oci, the OCI runtime with runc's command line: the create/start split really holds the
# process before the program, the pty master really arrives over --console-socket, runc's
# exit codes and messages, hooks with the state on stdin; then real clients run their
# containers on it: Podman (run --rm, -d, exec, stop, rm, -it in tmux, pause/unpause, stats)
# and containerd 1.6 (ctr run, exec, kill, delete through the runc v2 shim).

load helpers

setup_file() {
    ctrkit_setup_file
    B="$TEST_DIR/bundle"
    make_busybox_rootfs "$B/rootfs"
}

setup() {
    require_root
    require_cmd ctr-oci jq
    B="$TEST_DIR/bundle"
    R="$TEST_DIR/oci-$BATS_TEST_NUMBER"
    OCI=(ctr-oci --root "$R")
}

teardown() {
    local id
    for id in $("${OCI[@]}" list -q 2>/dev/null); do "${OCI[@]}" delete -f "$id" >/dev/null 2>&1; done
    kill_tracked
}

# bundle ID ARGS_JSON [JQ_FILTER] : a config.json for the busybox rootfs running ARGS, in
# the file's test cgroup, edited by JQ_FILTER
bundle() {
    local id=$1 args=$2 extra=${3:-.}
    rm -f "$B/config.json"
    ctr-oci spec -b "$B"
    jq --argjson a "$args" --arg cg "/$TEST_CGROUP/$id" \
        '.process.terminal = false | .process.args = $a | .root.readonly = false
         | .linux.cgroupsPath = $cg | .hostname = "oci-test"' "$B/config.json" |
        jq "$extra" >"$B/config.json.new"
    mv "$B/config.json.new" "$B/config.json"
}

# oci_bg ARGS... : a ctr-oci command that leaves a container behind (create, run -d, exec -d):
# the container inherits its stdio, so not bats' pipes; output in $TEST_DIR/bg.out/.err
oci_bg() {
    local want=0
    if [ "$1" = --rc ]; then want=$2; shift 2; fi
    local rc=0
    timeout 60 "${OCI[@]}" "$@" </dev/null >"$TEST_DIR/bg.out" 2>"$TEST_DIR/bg.err" || rc=$?
    stderr=$(cat "$TEST_DIR/bg.err")
    if [ "$rc" != "$want" ]; then
        echo "ctr-oci $*: exit $rc, wanted $want; stderr: $stderr" >&2
        return 1
    fi
}

status_of() {
    "${OCI[@]}" state "$1" | jq -r .status
}

@test "create leaves the process waiting before the program; start releases it; state follows" {
    bundle w1 '["sh","-c","touch /started; sleep 300"]'
    oci_bg create -b "$B" --pid-file "$TEST_DIR/w1.pid" w1
    pid=$(cat "$TEST_DIR/w1.pid")
    [ -d "/proc/$pid" ]
    run_tool "${OCI[@]}" state w1
    assert_json .status created
    assert_json .pid "$pid"
    assert_json .id w1
    assert_json .ociVersion 1.1.0
    assert_json .bundle "$B"
    # the process exists, in its own namespaces, but is still nsenter-rs: the program has not run
    [ "$(readlink "/proc/$pid/ns/pid")" != "$(readlink /proc/self/ns/pid)" ]
    assert_contains "$(tr '\0' ' ' <"/proc/$pid/cmdline")" "nsenter-rs"
    sleep 0.3
    [ ! -e "$B/rootfs/started" ]
    [ -p "$R/w1/exec.fifo" ]
    oci_bg start w1
    for _ in $(seq 100); do [ -e "$B/rootfs/started" ] && break; sleep 0.05; done
    [ -e "$B/rootfs/started" ]
    # the same process now runs the program
    [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline")" != *nsenter-rs* ]]
    rm -f "$B/rootfs/started"
    assert_eq "$(status_of w1)" running
    # the container's cgroup is the config's
    grep -q "$TEST_CGROUP/w1" "/proc/$pid/cgroup"
    oci_bg --rc 1 start w1
    run_tool --rc 1 "${OCI[@]}" delete w1
    assert_contains "$stderr" "not stopped"
    run_tool "${OCI[@]}" kill w1 KILL
    for _ in $(seq 50); do [ "$(status_of w1)" = stopped ] && break; sleep 0.05; done
    assert_eq "$(status_of w1)" stopped
    run_tool "${OCI[@]}" delete w1
    [ ! -e "$R/w1" ]
    for c in /sys/fs/cgroup/*/"$TEST_CGROUP"/w1; do [ ! -d "$c" ]; done
    run_tool --rc 1 "${OCI[@]}" state w1
    assert_contains "$stderr" "does not exist"
}

@test "the pty master arrives over --console-socket (SCM_RIGHTS) and is the container's terminal" {
    bundle t1 '["sh","-c","echo TTY=$(tty) SIZE=$(stty size) HOST=$(hostname); sleep 300"]' \
        '.process.terminal = true | .process.consoleSize = {height: 30, width: 99}'
    sock="$TEST_DIR/console.sock"
    rm -f "$sock"
    # a receiver: takes one descriptor, says what it is, and reads the container's output
    python3 - "$sock" >"$TEST_DIR/console.out" 2>&1 <<'EOF' &
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
c, _ = s.accept()
msg, fds, _, _ = socket.recv_fds(c, 1024, 1)
print("msg=%s fds=%d" % (msg.decode(), len(fds)))
print("isatty=%s" % os.isatty(fds[0]))
out = b""
end = time.time() + 10
while (b"HOST=" not in out or not out.endswith(b"\n")) and time.time() < end:
    out += os.read(fds[0], 1024)
print(out.decode().strip())
sys.stdout.flush()
EOF
    track_pid $!
    wait_for_file "$sock" || sleep 0.2
    oci_bg create -b "$B" --console-socket "$sock" t1
    oci_bg start t1
    for _ in $(seq 100); do grep -q HOST= "$TEST_DIR/console.out" && break; sleep 0.05; done
    out=$(cat "$TEST_DIR/console.out")
    assert_contains "$out" "msg=/dev/ptmx fds=1"
    assert_contains "$out" "isatty=True"
    assert_contains "$out" "TTY=/dev/pts/0 SIZE=30 99 HOST=oci-test"
    # terminal without a console socket: runc's refusal
    run_tool "${OCI[@]}" delete -f t1
    oci_bg --rc 1 create -b "$B" t2
    assert_contains "$stderr" "console socket"
    [ ! -e "$R/t2" ]
}

@test "exec runs in the container (args or --process, -d with --pid-file); its status is ours" {
    bundle e1 '["sleep","300"]'
    oci_bg run -d -b "$B" e1
    run_tool "${OCI[@]}" exec e1 sh -c 'echo in-$(hostname); ls /proc | grep -c "^[0-9]"'
    assert_contains "$output" "in-oci-test"
    run_tool --rc 7 "${OCI[@]}" exec e1 sh -c 'exit 7'
    printf '{"args":["sh","-c","echo $FOO $(pwd) $(id -u)"],"env":["FOO=bar"],"cwd":"/tmp","user":{"uid":65534,"gid":65534}}' >"$TEST_DIR/p.json"
    run_tool "${OCI[@]}" exec --process "$TEST_DIR/p.json" e1
    assert_eq "$output" "bar /tmp 65534"
    oci_bg exec -d --pid-file "$TEST_DIR/e.pid" e1 sleep 200
    epid=$(cat "$TEST_DIR/e.pid")
    assert_match "$epid" '^[0-9]+$'
    assert_eq "$(tr '\0' ' ' <"/proc/$epid/cmdline")" "sleep 200 "
    [ "$(readlink "/proc/$epid/ns/pid")" = "$(readlink "/proc/$("${OCI[@]}" state e1 | jq .pid)/ns/pid")" ]
    run_tool "${OCI[@]}" ps --format json e1
    assert_json "any(. == $epid)" true
    run_tool "${OCI[@]}" exec -e X=1 --cwd /etc e1 sh -c 'echo $X $(pwd)'
    assert_eq "$output" "1 /etc"
    # --cap adds to the process's sets: the spec's default has no CAP_SYS_ADMIN (bit 21,
    # 0x200000; its default is AUDIT_WRITE, KILL, NET_BIND_SERVICE: 0x20000420)
    run_tool "${OCI[@]}" exec e1 grep CapEff: /proc/self/status
    assert_contains "$output" "CapEff:	0000000020000420"
    run_tool "${OCI[@]}" exec --cap CAP_SYS_ADMIN e1 grep CapEff: /proc/self/status
    assert_contains "$output" "CapEff:	0000000020200420"
    # ... and the kernel honours it: only with it may the process mount
    run_tool --rc any "${OCI[@]}" exec e1 mount -t tmpfs none /tmp
    [ "$status" -ne 0 ]
    assert_contains "$stderr" "ermission denied"
    run_tool "${OCI[@]}" exec --cap sys_admin e1 mount -t tmpfs none /tmp
    run_tool "${OCI[@]}" exec e1 grep -c " /tmp tmpfs" /proc/mounts
    assert_eq "$output" 1
    # --additional-gids and a --process file's user.additionalGids and capabilities
    run_tool "${OCI[@]}" exec --additional-gids 7 --additional-gids 9 -u 65534:65534 e1 id -G
    assert_eq "$output" "65534 7 9"
    printf '{"args":["sh","-c","id -G; grep -E ^Cap[EPB] /proc/self/status"],"cwd":"/","user":{"uid":0,"gid":0,"additionalGids":[3]},"capabilities":{"bounding":["CAP_NET_RAW","CAP_CHOWN"],"effective":["CAP_NET_RAW"],"permitted":["CAP_NET_RAW"]}}' >"$TEST_DIR/pc.json"
    run_tool "${OCI[@]}" exec --process "$TEST_DIR/pc.json" e1
    assert_contains "$output" "0 3"
    assert_contains "$output" "CapEff:	0000000000002000"
    assert_contains "$output" "CapPrm:	0000000000002000"
    assert_contains "$output" "CapBnd:	0000000000002001"
}

@test "kill, kill --all, pause/resume (the freezer), update, events --stats, list, features" {
    bundle k1 '["sh","-c","sleep 300 & exec sleep 301"]'
    oci_bg run -d -b "$B" k1
    pid=$("${OCI[@]}" state k1 | jq .pid)
    run_tool "${OCI[@]}" pause k1
    assert_eq "$(status_of k1)" paused
    assert_eq "$(awk '/^State:/ {print $2}' "/proc/$pid/status")" D
    run_tool "${OCI[@]}" resume k1
    assert_eq "$(status_of k1)" running
    assert_eq "$(awk '/^State:/ {print $2}' "/proc/$pid/status")" S
    echo '{"memory":{"limit":67108864},"pids":{"limit":20}}' >"$TEST_DIR/res.json"
    run_tool "${OCI[@]}" update --resources "$TEST_DIR/res.json" k1
    assert_eq "$(cat /sys/fs/cgroup/memory/"$TEST_CGROUP"/k1/memory.limit_in_bytes)" 67108864
    assert_eq "$(cat /sys/fs/cgroup/pids/"$TEST_CGROUP"/k1/pids.max)" 20
    run_tool "${OCI[@]}" events --stats k1
    assert_json .type stats
    assert_json '.data.pids.current' 2
    assert_json '.data.memory.usage.limit' 67108864
    run_tool "${OCI[@]}" list --format json
    assert_json '.[0].id + " " + .[0].status' "k1 running"
    run_tool "${OCI[@]}" list
    assert_match "${lines[1]}" "^k1 +$pid +running +$B "
    run_tool "${OCI[@]}" ps --format json k1
    assert_json length 2
    run_tool "${OCI[@]}" kill --all k1 KILL
    for _ in $(seq 50); do [ "$(status_of k1)" = stopped ] && break; sleep 0.05; done
    assert_eq "$(status_of k1)" stopped
    run_tool --rc 1 "${OCI[@]}" kill k1 TERM
    assert_contains "$stderr" "not running"
    run_tool "${OCI[@]}" features
    assert_json '.ociVersionMax' 1.1.0
    assert_json '.linux.apparmor.enabled' false
}

@test "hooks get the state on stdin in order; a failing createRuntime hook fails create and leaves nothing" {
    h="$TEST_DIR/hooks"
    mkdir -p "$h"
    rm -f "$h"/*
    bundle h1 '["true"]' "$(printf '.hooks = {
        "prestart": [{"path":"/bin/sh","args":["sh","-c","cat > %s/prestart"]}],
        "createRuntime": [{"path":"/bin/sh","args":["sh","-c","cat > %s/createRuntime"]}],
        "poststart": [{"path":"/bin/sh","args":["sh","-c","cat > %s/poststart"]}],
        "poststop": [{"path":"/bin/sh","args":["sh","-c","cat > %s/poststop"]}]}' "$h" "$h" "$h" "$h")"
    oci_bg create -b "$B" h1
    assert_json .id h1 "$(cat "$h/createRuntime")"
    assert_json .status created "$(cat "$h/createRuntime")"
    # prestart at start (the validation suite's reading of the spec), before the program
    [ ! -e "$h/prestart" ] && [ ! -e "$h/poststart" ]
    oci_bg start h1
    assert_json .status created "$(cat "$h/prestart")"
    assert_json .status running "$(cat "$h/poststart")"
    [ ! -e "$h/poststop" ]
    for _ in $(seq 50); do [ "$(status_of h1)" = stopped ] && break; sleep 0.05; done
    run_tool "${OCI[@]}" delete h1
    assert_json .status stopped "$(cat "$h/poststop")"
    # failure and timeout
    bundle h2 '["true"]' '.hooks = {"createRuntime": [{"path":"/bin/sh","args":["sh","-c","exit 3"]}]}'
    oci_bg --rc 1 create -b "$B" h2
    assert_contains "$stderr" "createRuntime"
    [ ! -e "$R/h2" ]
    bundle h3 '["true"]' '.hooks = {"createRuntime": [{"path":"/bin/sleep","args":["sleep","30"],"timeout":1}]}'
    oci_bg --rc 1 create -b "$B" h3
    assert_contains "$stderr" "timed out"
    [ ! -e "$R/h3" ]
    for c in /sys/fs/cgroup/*/"$TEST_CGROUP"/h[23]; do [ ! -d "$c" ]; done
}

@test "runc's errors: exit 1, the messages clients parse, --log in JSON, --systemd-cgroup refused" {
    run_tool --rc 1 "${OCI[@]}" state nosuch
    assert_error ctr-oci "container does not exist"
    run_tool --rc 1 "${OCI[@]}" --log "$TEST_DIR/log.json" --log-format json kill nosuch
    assert_json .level error "$(tail -1 "$TEST_DIR/log.json")"
    assert_contains "$(jq -r .msg "$TEST_DIR/log.json")" "does not exist"
    run_tool "${OCI[@]}" delete -f nosuch
    bundle x1 '["sleep","300"]'
    oci_bg run -d -b "$B" x1
    oci_bg --rc 1 create -b "$B" x1
    assert_contains "$stderr" "already exists"
    oci_bg --rc 1 create -b "$B" 'bad/id'
    assert_contains "$stderr" "invalid container id"
    if [ ! -d /run/systemd/system ]; then
        run_tool --rc 1 "${OCI[@]}" --systemd-cgroup list
        assert_error ctr-oci "systemd does not run"
    fi
    oci_bg --rc 1 create -b "$TEST_DIR/nobundle" x2
    assert_contains "$stderr" "nobundle"
    # run without -d: the program's status, and the container is gone after
    bundle x3 '["sh","-c","exit 4"]'
    run_tool --rc 4 "${OCI[@]}" run -b "$B" x3
    run_tool --rc 1 "${OCI[@]}" state x3
}

@test "config.json: user, groups, env, cwd, capabilities, rlimits, readonly root, mounts, sysctl, seccomp" {
    mkdir -p "$TEST_DIR/vol" && echo volume-data >"$TEST_DIR/vol/f"
    bundle c1 '["sh","-c","id; echo $A; pwd; grep -E \"^Cap(Bnd|Eff|Inh|Amb)\" /proc/self/status; ulimit -n; cat /data/f; touch /x 2>&1 || echo ro-root; cat /proc/sys/net/ipv4/ip_forward; grep Seccomp: /proc/self/status; grep -c \" /scratch tmpfs\" /proc/mounts"]' \
        ".process.user = {uid: 1000, gid: 1000, additionalGids: [5, 7]} | .process.env += [\"A=from-env\"]
         | .process.cwd = \"/tmp\" | .root.readonly = true
         | .process.capabilities = {bounding: [\"CAP_KILL\",\"CAP_CHOWN\"], effective: [\"CAP_KILL\"], permitted: [\"CAP_KILL\",\"CAP_CHOWN\"], inheritable: [\"CAP_KILL\"], ambient: [\"CAP_KILL\"]}
         | .process.rlimits = [{type: \"RLIMIT_NOFILE\", soft: 321, hard: 654}]
         | .mounts += [{destination: \"/data\", type: \"bind\", source: \"$TEST_DIR/vol\", options: [\"rbind\",\"ro\"]},
                       {destination: \"/scratch\", type: \"tmpfs\", source: \"tmpfs\", options: [\"size=1m\"]}]
         | .linux.sysctl = {\"net.ipv4.ip_forward\": \"1\"}
         | .linux.seccomp = {defaultAction: \"SCMP_ACT_ALLOW\", syscalls: [{names: [\"mkdir\"], action: \"SCMP_ACT_ERRNO\"}]}"
    run_tool "${OCI[@]}" run -b "$B" c1
    assert_contains "$output" "uid=1000 gid=1000 groups=5,7"
    assert_contains "$output" "from-env"
    assert_contains "$output" "/tmp"
    # CAP_CHOWN is bit 0, CAP_KILL bit 5
    assert_contains "$output" "CapInh:	0000000000000020"
    assert_contains "$output" "CapBnd:	0000000000000021"
    assert_contains "$output" "CapAmb:	0000000000000020"
    assert_contains "$output" "CapEff:	0000000000000020"
    assert_contains "$output" "321"
    assert_contains "$output" "volume-data"
    assert_contains "$output" "ro-root"
    assert_match "$output" $'\n1\nSeccomp:\t2\n1'
}

@test "config.json: devices made with mknod, mounts of any type in order with propagation, rootfsPropagation" {
    # 10:666 is no device of this host: the node is made from the config alone
    [ ! -e /dev/ctr-oci-test ]
    bundle d1 '["sh","-c","stat -c \"%F %t:%T %a %u:%g\" /dev/ctr-oci-test /dev/fifo-test; grep -E \" / | /mq | /opt/etc \" /proc/self/mountinfo; ls /opt/etc/hostname"]' \
        '.linux.devices = [{path: "/dev/ctr-oci-test", type: "c", major: 10, minor: 666, fileMode: 384, uid: 1, gid: 2},
                           {path: "/dev/fifo-test", type: "p", fileMode: 420}]
         | .linux.rootfsPropagation = "shared"
         | .mounts += [{destination: "/mq", type: "mqueue", source: "mqueue", options: ["nosuid", "nodev"]},
                       {destination: "/opt/etc", source: "/etc", options: ["rbind", "ro", "nosuid", "slave"]}]'
    run_tool "${OCI[@]}" run -b "$B" d1
    assert_contains "$output" "character special file a:29a 600 1:2"
    assert_contains "$output" "fifo 0:0 644 0:0"
    [ ! -e /dev/ctr-oci-test ]
    # "/" is shared (a peer group of its own: everything was built private), /mq a real
    # mqueue, /opt/etc a read-only nosuid bind of the host's /etc (its files there)
    assert_match "$output" $' / rw[^\n]* shared:[0-9]+'
    assert_match "$output" $' /mq rw,nosuid,nodev[^\n]* - mqueue '
    assert_match "$output" $' /opt/etc ro,nosuid'
    assert_contains "$output" "/opt/etc/hostname"
}

@test "config.json without a mount namespace: the process stays in ours, chrooted, nothing mounted" {
    bundle n1 '["sh","-c","echo in-$(hostname); ls /proc | wc -l; readlink /proc/1/ns/mnt; sleep 300"]' \
        '.linux.namespaces -= [{type: "mount"}]'
    oci_bg create -b "$B" n1
    assert_contains "$stderr" "no mount namespace"
    pid=$("${OCI[@]}" state n1 | jq .pid)
    # created: already in our mount namespace, its root the bundle's rootfs
    [ "$(readlink "/proc/$pid/ns/mnt")" = "$(readlink /proc/self/ns/mnt)" ]
    [ "$(readlink "/proc/$pid/root")" = "$(readlink -f "$B/rootfs")" ]
    run_tool "${OCI[@]}" start n1
    run_tool "${OCI[@]}" delete -f n1
    [ ! -d "$B/rootfs/proc/self" ]
}

@test "ctr-oci run in the foreground with process.terminal holds the terminal (tmux)" {
    require_cmd tmux
    bundle r1 '["sh"]' '.process.terminal = true'
    sess="ctroci-run-$$"
    tmux new-session -d -s "$sess" -x 100 -y 20 \
        "ctr-oci --root $R run -b $B r1; echo run-exit=\$?; sleep 30"
    for _ in $(seq 100); do tmux capture-pane -t "$sess" -p | grep -q '/ #' && break; sleep 0.1; done
    tmux send-keys -t "$sess" 'echo IN-$(hostname)-$(tty)' Enter
    tmux send-keys -t "$sess" 'exit 4' Enter
    for _ in $(seq 100); do tmux capture-pane -t "$sess" -p | grep -q run-exit && break; sleep 0.1; done
    out=$(tmux capture-pane -t "$sess" -p)
    tmux kill-session -t "$sess"
    assert_contains "$out" "IN-oci-test-/dev/pts/0"
    assert_contains "$out" "run-exit=4"
    [ ! -e "$R/r1" ]
}

# ---------------------------------------------------------------- Podman

podman_setup() {
    require_cmd podman conmon
    P="$TEST_DIR/podman"
    mkdir -p "$P/tmp" "$P/vol" "$P/net.d" "$P/graph" "$P/run"
    HAD_LIBPOD_PARENT=0
    [ -d /sys/fs/cgroup/memory/libpod_parent ] && HAD_LIBPOD_PARENT=1
    HAD_RUN_CTR_OCI=0
    [ -d /run/ctr-oci ] && HAD_RUN_CTR_OCI=1
    cat >"$P/containers.conf" <<EOC
[containers]
default_ulimits = ["nofile=20000:20000","nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
tmp_dir = "$P/tmp"
volume_path = "$P/vol"
[network]
network_backend = "cni"
network_config_dir = "$P/net.d"
EOC
    printf '[storage]\ndriver = "vfs"\ngraphroot = "%s/graph"\nrunroot = "%s/run"\n' "$P" "$P" >"$P/storage.conf"
    export CONTAINERS_CONF="$P/containers.conf" CONTAINERS_STORAGE_CONF="$P/storage.conf"
    # (podman passes no --root to a runtime it does not know, and its cleanup process no
    # --runtime-flag: the state is in ctr-oci's default root; only our IDs are touched)
    PODMAN=(podman --runtime "$(command -v ctr-oci)")
    PR=/run/ctr-oci
    if ! podman image exists ocitest 2>/dev/null; then
        tar -C "$B/rootfs" -cf "$P/rootfs.tar" .
        run_tool podman import "$P/rootfs.tar" ocitest
    fi
}

podman_teardown() {
    podman rm -a -f -t 0 >/dev/null 2>&1 || true
    [ "$HAD_RUN_CTR_OCI" = 1 ] || rmdir /run/ctr-oci 2>/dev/null || true
    if [ "$HAD_LIBPOD_PARENT" = 0 ]; then
        for c in /sys/fs/cgroup/*/libpod_parent; do
            [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
        done
    fi
    return 0
}

@test "podman runs its containers on ctr-oci: run --rm, -d, exec, pause/unpause, stats, stop, rm" {
    podman_setup
    run_tool "${PODMAN[@]}" run --rm --network none --hostname pod-oci ocitest sh -c 'echo hi-$(hostname); grep Seccomp: /proc/self/status'
    assert_contains "$output" "hi-pod-oci"
    assert_contains "$output" $'Seccomp:\t2'
    "${PODMAN[@]}" run -d --network none --name p1 ocitest sleep 300 </dev/null >"$P/id" 2>"$P/err"
    id=$(cat "$P/id")
    # ctr-oci's own state folder (with fields runc does not write) holds the container
    assert_json .status running "$(ctr-oci --root "$PR" state "$id")"
    [ -n "$(jq -r .starttime "$PR/$id/state.json")" ]
    pid=$(jq .pid "$PR/$id/state.json")
    run_tool "${PODMAN[@]}" exec p1 sh -c 'echo exec-$(hostname)'
    assert_eq "$output" "exec-${id:0:12}"
    run_tool --rc 3 "${PODMAN[@]}" exec p1 sh -c 'exit 3'
    run_tool "${PODMAN[@]}" exec -t p1 tty
    assert_contains "$output" "/dev/pts/"
    run_tool "${PODMAN[@]}" pause p1
    assert_json .status paused "$(ctr-oci --root "$PR" state "$id")"
    assert_eq "$(awk '/^State:/ {print $2}' "/proc/$pid/status")" D
    run_tool "${PODMAN[@]}" unpause p1
    assert_json .status running "$(ctr-oci --root "$PR" state "$id")"
    run_tool "${PODMAN[@]}" stats --no-stream --format '{{.Name}} {{.PIDs}}' p1
    assert_eq "$output" "p1 1"
    run_tool "${PODMAN[@]}" stop -t 1 p1
    [ ! -d "/proc/$pid" ] || [ "$(awk '{print $3}' "/proc/$pid/stat")" = Z ]
    run_tool "${PODMAN[@]}" rm p1
    [ ! -e "$PR/$id" ]
    podman_teardown
}

@test "podman run -it on ctr-oci, typed into from tmux" {
    require_cmd tmux
    podman_setup
    cat >"$P/it.sh" <<EOS
export CONTAINERS_CONF="$CONTAINERS_CONF" CONTAINERS_STORAGE_CONF="$CONTAINERS_STORAGE_CONF"
${PODMAN[*]} run -it --rm --network none --hostname tty-oci ocitest sh
echo "podman-exit=\$?"
sleep 30
EOS
    sess="ctroci-$$"
    tmux new-session -d -s "$sess" -x 100 -y 20 "sh $P/it.sh"
    for _ in $(seq 100); do tmux capture-pane -t "$sess" -p | grep -q '/ #' && break; sleep 0.1; done
    tmux send-keys -t "$sess" 'echo IN-$(hostname)-$(tty)' Enter
    tmux send-keys -t "$sess" 'exit 3' Enter
    for _ in $(seq 100); do tmux capture-pane -t "$sess" -p | grep -q podman-exit && break; sleep 0.1; done
    out=$(tmux capture-pane -t "$sess" -p)
    tmux kill-session -t "$sess"
    assert_contains "$out" "IN-tty-oci-/dev/pts/0"
    assert_contains "$out" "podman-exit=3"
    podman_teardown
}

# ---------------------------------------------------------------- containerd

@test "containerd 1.6 (ctr, runc v2 shim) runs, execs into, kills and deletes a container on ctr-oci" {
    require_cmd containerd ctr containerd-shim-runc-v2
    C="$TEST_DIR/containerd"
    mkdir -p "$C"
    ns="ctrkit-oci-$$"
    had_run_containerd=0
    [ -d /run/containerd ] && had_run_containerd=1
    cat >"$C/config.toml" <<EOC
version = 2
root = "$C/root"
state = "$C/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$C/containerd.sock"
[ttrpc]
  address = "$C/containerd-ttrpc.sock"
EOC
    containerd --config "$C/config.toml" >"$C/log" 2>&1 &
    cpid=$!
    track_pid "$cpid"
    for _ in $(seq 100); do [ -S "$C/containerd.sock" ] && break; sleep 0.05; done
    X=(ctr -a "$C/containerd.sock" -n "$ns")
    run_tool "${X[@]}" run --rm --runc-binary "$(command -v ctr-oci)" --rootfs "$B/rootfs" c1 sh -c 'echo run-ok'
    assert_eq "$output" "run-ok"
    "${X[@]}" run -d --runc-binary "$(command -v ctr-oci)" --rootfs "$B/rootfs" c2 sleep 300 </dev/null >"$C/run.out" 2>&1
    # the shim's runtime root holds ctr-oci's state (runc's state.json has no "starttime")
    st="/run/containerd/runc/$ns/c2/state.json"
    [ -n "$(jq -r .starttime "$st")" ]
    pid=$(jq .pid "$st")
    run_tool --rc 5 "${X[@]}" task exec --exec-id e1 c2 sh -c 'echo exec-ok; exit 5'
    assert_eq "$output" "exec-ok"
    run_tool "${X[@]}" task ls
    assert_match "$output" "c2 +$pid +RUNNING"
    run_tool "${X[@]}" task kill -s KILL c2
    for _ in $(seq 50); do "${X[@]}" task ls | grep -q STOPPED && break; sleep 0.1; done
    run_tool "${X[@]}" task delete c2
    run_tool "${X[@]}" container delete c2
    [ ! -e "/run/containerd/runc/$ns/c2" ]
    kill "$cpid"
    wait "$cpid" || true
    rm -rf "/run/containerd/runc/$ns" "/run/containerd/io.containerd.runtime.v2.task/$ns"
    [ "$had_run_containerd" = 1 ] || rm -rf /run/containerd
    for c in /sys/fs/cgroup/*/"$ns" /sys/fs/cgroup/"$ns"; do [ ! -d "$c" ] || rmdir "$c"; done
}
