#!/usr/bin/env bats
# ctr-run on the default image with --network none: the Docker demonstrations of isolation,
# limits and layers, and the options that shape a container, each checked from outside.

load helpers
load 60-ctr-helpers

setup_file() { ctr_setup_file; }
teardown_file() { ctr_teardown_file; }
teardown() { ctr_teardown; }


@test "ps -ef inside shows the command as PID 1 and nothing of the host" {
    need_run
    run_tool ctr-run --rm --network none busybox ps -ef
    lines=$(printf '%s\n' "$output" | grep -c '')
    assert_eq "$lines" 2 "a header and ps itself: $output"
    assert_match "$(printf '%s\n' "$output" | sed -n 2p)" '^ +1 +root +ps -ef$'
    no_leftovers none
}

@test "the hostname is the container's: --hostname, else its name" {
    need_run
    run_tool ctr-run --rm --network none --hostname box busybox hostname
    assert_eq "$output" box
    run_tool ctr-run --rm --network none --name named-one busybox cat /proc/sys/kernel/hostname
    assert_eq "$output" named-one
    [ "$(hostname)" != box ]
}

@test "--rm leaves nothing: state folder, mounts, cgroup, container layer" {
    need_run
    run_tool ctr-run --rm --network none --name gone --memory 64m busybox true
    no_leftovers gone
    run_tool ctr-run --rm --network none --name gone busybox true
    no_leftovers gone
}

@test "--rm mounts the writable layer volatile (nothing synced to disk); without --rm it is not" {
    need_run
    # the container's root, as its own mount table shows it
    run_tool ctr-run --rm --network none --name vol busybox grep ' / / ' /proc/self/mountinfo
    assert_match "$output" ' - overlay [^ ]+ .*(^|,)(fsync=)?volatile(,|$)'
    no_leftovers vol
    run_tool ctr-run --network none --name kept busybox grep ' / / ' /proc/self/mountinfo
    assert_match "$output" ' - overlay '
    [[ "$output" != *volatile* ]]
    run_tool ctr-rm kept
    no_leftovers kept
}

@test "the exit status is the container's; 126 and 127 as Docker's" {
    need_run
    run_tool --rc 7 ctr-run --rm --network none busybox sh -c 'exit 7'
    run_tool --rc 127 ctr-run --rm --network none busybox /no/such/command
    run_tool --rc 126 ctr-run --rm --network none busybox /etc/passwd
    # (a PID 1 cannot be killed from inside its namespace: with --init the command is PID 2)
    run_tool --rc 137 ctr-run --rm --network none --init busybox sh -c 'kill -9 $$'
    no_leftovers none
}

@test "the environment: image Env, PATH, HOSTNAME, -e, --env-file; nothing of the caller's" {
    need_run
    printf '# a comment\nFROM_FILE=yes\n\nOVERRIDE=file\n' >"$TEST_DIR/env"
    SECRET_OF_HOST=leak PASSED=through run_tool ctr-run --rm --network none --name envy \
        --env-file "$TEST_DIR/env" -e OVERRIDE=flag -e PASSED -e A='x y' busybox env
    env=$(printf '%s\n' "$output" | sort)
    assert_contains "$env" "FROM_FILE=yes"
    assert_contains "$env" "OVERRIDE=flag"
    assert_contains "$env" "PASSED=through"
    assert_contains "$env" "A=x y"
    assert_contains "$env" "HOSTNAME=envy"
    assert_contains "$env" "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    [[ "$env" != *SECRET_OF_HOST* ]]
    [[ "$env" != *OVERRIDE=file* ]]
}

@test "-u 1000 really runs as uid 1000; -u user:user by name; -w sets the directory" {
    need_run
    run_tool ctr-run --rm --network none -u 1000 busybox sh -c 'id -u; id -g; grep ^Uid: /proc/self/status'
    assert_eq "$(printf '%s\n' "$output" | sed -n 1p)" 1000
    assert_eq "$(printf '%s\n' "$output" | sed -n 2p)" 1000
    assert_match "$(printf '%s\n' "$output" | sed -n 3p)" '^Uid:[[:space:]]+1000[[:space:]]+1000[[:space:]]+1000[[:space:]]+1000$'
    run_tool ctr-run --rm --network none -u user:nogroup -w /tmp busybox sh -c 'id -un; id -g; pwd; echo $HOME'
    assert_eq "$output" "user
65534
/tmp
/home/user"
    run_tool --rc 125 ctr-run --rm --network none -u nosuchuser busybox true
    assert_error ctr-run "user 'nosuchuser' not found in image busybox"
}

@test "--read-only: the root filesystem refuses writes, --tmpfs still takes them" {
    need_run
    run_tool --rc 1 ctr-run --rm --network none --read-only busybox touch /newfile
    assert_contains "$stderr" "Read-only file system"
    run_tool ctr-run --rm --network none --read-only --tmpfs /scratch busybox sh -c 'touch /scratch/f && grep " /scratch " /proc/mounts'
    assert_contains "$output" "tmpfs /scratch tmpfs"
}

@test "-v: a volume is the host's directory; :ro is enforced" {
    need_run
    mkdir -p "$TEST_DIR/vol"
    echo from-host >"$TEST_DIR/vol/in"
    run_tool ctr-run --rm --network none -v "$TEST_DIR/vol:/data" busybox sh -c 'cat /data/in; echo from-container >/data/out'
    assert_eq "$output" from-host
    assert_eq "$(cat "$TEST_DIR/vol/out")" from-container
    run_tool --rc 1 ctr-run --rm --network none -v "$TEST_DIR/vol:/data:ro" busybox sh -c 'cat /data/in; echo x >/data/out2'
    assert_eq "$output" from-host
    assert_contains "$stderr" "Read-only file system"
    [ ! -e "$TEST_DIR/vol/out2" ]
}

@test "capabilities: Docker's default set, --cap-drop ALL, --privileged; no_new_privs" {
    need_run
    run_tool ctr-run --rm --network none busybox grep -E '^(CapEff|NoNewPrivs)' /proc/self/status
    assert_contains "$output" "CapEff:	00000000a80425fb"
    assert_contains "$output" "NoNewPrivs:	1"
    run_tool ctr-run --rm --network none --cap-drop ALL busybox grep ^CapEff /proc/self/status
    assert_eq "$output" "CapEff:	0000000000000000"
    run_tool ctr-run --rm --network none --cap-drop ALL --cap-add NET_ADMIN busybox grep ^CapEff /proc/self/status
    assert_eq "$output" "CapEff:	0000000000001000"
}

@test "--privileged keeps every capability the caller has" {
    need_run
    run_tool ctr-run --rm --network none --privileged busybox grep ^CapEff /proc/self/status
    assert_eq "$output" "CapEff:	$(grep ^CapEff /proc/self/status | cut -f2)"
}

@test "--init: PID 1 is the init, the command is PID 2; --entrypoint replaces the command" {
    need_run
    run_tool ctr-run --rm --network none --init busybox sh -c 'echo $$; cat /proc/1/cmdline | tr "\0" " "'
    assert_eq "$(printf '%s\n' "$output" | sed -n 1p)" 2
    run_tool ctr-run --rm --network none --entrypoint /bin/echo busybox hello world
    assert_eq "$output" "hello world"
    # without a command: the image's Cmd, sh, reading stdin
    run_tool sh -c 'echo "echo from-stdin-\$((6*7))" | ctr-run -i --rm --network none busybox'
    assert_eq "$output" from-stdin-42
}

@test "--cpus 0.5 is a 50000/100000 quota and a busy loop gets half a CPU" {
    need_run
    run_tool ctr-run -d --network none --name spin --cpus 0.5 --memory 64m --pids-limit 50 \
        --cpu-shares 512 --memory-swap 128m busybox sh -c 'while :; do :; done'
    assert_eq "$output" spin
    cpu=$(cgroup_dir cpu spin)
    assert_eq "$(cat "$cpu/cpu.cfs_quota_us")" 50000
    assert_eq "$(cat "$cpu/cpu.cfs_period_us")" 100000
    assert_eq "$(cat "$(cgroup_dir memory spin)/memory.limit_in_bytes")" $((64 * 1024 * 1024))
    assert_eq "$(cat "$(cgroup_dir pids spin)/pids.max")" 50
    assert_eq "$(cat "$cpu/cpu.shares")" 512
    memsw=$(cgroup_dir memory spin)/memory.memsw.limit_in_bytes
    [ ! -f "$memsw" ] || assert_eq "$(cat "$memsw")" $((128 * 1024 * 1024))
    acct=$(cgroup_dir cpuacct spin)/cpuacct.usage
    a=$(cat "$acct")
    sleep 2
    b=$(cat "$acct")
    ms=$(((b - a) / 1000000))
    echo "# busy loop used $ms ms of CPU in 2000 ms" >&3
    # the quota caps it at 1000 ms
    [ "$ms" -lt 1200 ]
    # and it gets that half CPU when the machine has it to spare (a loaded one may not)
    read -r load _ </proc/loadavg
    if [ "${load%.*}" -lt 1 ]; then [ "$ms" -gt 750 ]; fi
    run_tool ctr-rm -f spin
    no_leftovers spin
    # --cpuset-cpus confines the container to those CPUs
    run_tool ctr-run --rm --network none --cpuset-cpus 0 busybox grep Cpus_allowed_list /proc/self/status
    assert_match "$output" 'Cpus_allowed_list:[[:space:]]+0$'
}

@test "a file written in the container lives only in its layer; ctr-commit makes an image of it" {
    need_run
    run_tool ctr-run --network none --name writer busybox sh -c 'echo layered >/hello; rm /etc/group'
    run_tool layermount diff writer
    assert_contains "$output" "A /hello"
    assert_contains "$output" "D /etc/group"
    # the image is unchanged: a new container does not see it
    run_tool ctr-run --rm --network none busybox sh -c 'test ! -e /hello && test -e /etc/group && echo clean'
    assert_eq "$output" clean
    run_tool ctr-commit writer hello-image
    run_tool ctr-run --rm --network none hello-image sh -c 'cat /hello; test ! -e /etc/group && echo gone'
    assert_eq "$output" "layered
gone"
    run_tool ctr-images
    assert_contains "$output" hello-image
    run_tool ctr-rm writer
    no_leftovers writer
    run_tool ctr-run --rm --network none busybox cat /etc/group
    assert_contains "$output" "root:x:0:"
}

@test "a signal sent to ctr-run reaches the container; ctr-run exits with its status, --rm cleans up" {
    need_run
    ctr-run --rm --network none --name sig busybox \
        sh -c 'trap "echo got TERM; exit 3" TERM; echo ready; while :; do sleep 0.1; done' >"$TEST_DIR/sig.out" 3>&- &
    pid=$!
    track_pid "$pid"
    wait_for grep -q ready "$TEST_DIR/sig.out"
    kill -TERM "$pid"
    rc=0
    wait "$pid" || rc=$?
    assert_eq "$rc" 3
    assert_eq "$(cat "$TEST_DIR/sig.out")" "ready
got TERM"
    no_leftovers sig
}

@test "detached: a command not found is 127 at once, one line, nothing left" {
    need_run
    # (nsenter-rs writes the pidfile only once the exec succeeded, so ctr-run -d never
    # takes a command that could not start for a running container)
    run_tool --rc 127 ctr-run -d --network none --name nf busybox /no/such/command
    assert_error ctr-run "/no/such/command"
    no_leftovers nf
}

# an image whose config has an Entrypoint, a Cmd, a WorkingDir, a User and an Env of its own
make_ep_image() {
    local o=$TEST_DIR/ep-oci m c new
    rm -rf "$o"
    mkimage-busybox --busybox /bin/busybox -o "$o" >/dev/null
    m=$o/blobs/sha256/$(jq -r '.manifests[0].digest' "$o/index.json" | cut -d: -f2)
    c=$o/blobs/sha256/$(jq -r .config.digest "$m" | cut -d: -f2)
    jq -c '.config += {Entrypoint: ["echo", "ep"], Cmd: ["default", "args"], WorkingDir: "/tmp",
        User: "1000", Env: (["FROM_IMAGE=no"] + .config.Env + ["PATH=/bin:/usr/bin", "FROM_IMAGE=yes"])}' \
        "$c" >"$TEST_DIR/cfg"
    new=$(sha256sum "$TEST_DIR/cfg" | cut -d' ' -f1)
    mv "$TEST_DIR/cfg" "$o/blobs/sha256/$new"
    jq -c --arg d "sha256:$new" --argjson s "$(stat -c %s "$o/blobs/sha256/$new")" \
        '.config.digest = $d | .config.size = $s' "$m" >"$TEST_DIR/man"
    new=$(sha256sum "$TEST_DIR/man" | cut -d' ' -f1)
    mv "$TEST_DIR/man" "$o/blobs/sha256/$new"
    jq -c --arg d "sha256:$new" --argjson s "$(stat -c %s "$o/blobs/sha256/$new")" \
        '.manifests[0].digest = $d | .manifests[0].size = $s' "$o/index.json" >"$TEST_DIR/idx"
    mv "$TEST_DIR/idx" "$o/index.json"
    ctr-load --name ep-image "$o" >/dev/null
}

@test "the cache of image defaults drops images no longer in the store when it adds one" {
    need_run
    run_tool ctr-run --rm --network none busybox true
    run_tool layermount inspect busybox --json
    id=$(jq -r .id <<<"$output")
    id=${id#sha256:}
    [ -f "$CTRKIT_STATE/images/$id.defaults" ]
    # an image removed since (a digest the store does not have), and busybox read anew
    stale=$CTRKIT_STATE/images/$(printf '%064d' 0).defaults
    printf 'cmd\tsh\n' >"$stale"
    rm "$CTRKIT_STATE/images/$id.defaults"
    run_tool ctr-run --rm --network none busybox echo again
    assert_eq "$output" again
    [ -f "$CTRKIT_STATE/images/$id.defaults" ]
    [ ! -e "$stale" ]
    no_leftovers none
}

@test "image defaults: Entrypoint + Cmd, COMMAND replaces Cmd, --entrypoint drops both; WorkingDir, User, Env" {
    need_run
    make_ep_image
    run_tool ctr-run --rm --network none ep-image
    assert_eq "$output" "ep default args"
    run_tool ctr-run --rm --network none ep-image mine
    assert_eq "$output" "ep mine"
    run_tool ctr-run --rm --network none --entrypoint /bin/sh ep-image -c 'pwd; id -u; echo $FROM_IMAGE'
    assert_eq "$output" "/tmp
1000
yes"
    # -u and -w win over the image's; the second run uses the defaults kept for the image ID
    run_tool ctr-run --rm --network none -u 0 -w / --entrypoint /bin/sh ep-image -c 'pwd; id -u'
    assert_eq "$output" "/
0"
    run_tool ctr-run -d --network none --name epi ep-image
    wait_for test -f "$CTRKIT_STATE/containers/epi/exit"
    run_tool ctr-inspect epi
    assert_json '.config.cmd | join(" ")' "echo ep default args"
    assert_json '.config.user' 1000
    assert_json '.config.detach' true
    assert_json '.config.created | test("^20[0-9-]+T[0-9:]+Z$")' true
    # one line a key where it first appeared, the image's last value winning over the defaults
    assert_json '.env | join(" ")' "PATH=/bin:/usr/bin HOSTNAME=epi HOME=/home/user FROM_IMAGE=yes"
    run_tool ctr-logs epi
    assert_eq "$output" "ep default args"
    run_tool ctr-rm epi
    no_leftovers epi
}
