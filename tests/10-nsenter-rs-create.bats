#!/usr/bin/env bats
# nsenter-rs create mode: a container's birth, each effect observed from outside.

load helpers

setup_file() {
    ctrkit_setup_file
    make_busybox_rootfs "$TEST_DIR/rootfs"
    export R="$TEST_DIR/rootfs"
}

# cap_mask FIELD : the hex mask of FIELD (CapEff, CapBnd...) in $output
cap_field() {
    printf '%s\n' "$output" | awk -v f="$1:" '$1 == f {print $2}'
}

# mounts_at MOUNTPOINT... : "MOUNTPOINT FSTYPE" lines from a mountinfo on stdin (awk program)
MOUNTS_AWK='{ for (i = 7; i <= NF; i++) if ($i == "-") { print $5, $(i + 1); break } }'
export MOUNTS_AWK

# gone PID : the process is gone (or a zombie) within 5 s
gone() {
    local i=0
    while [ -d "/proc/$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || return 1
        sleep 0.05
    done
}

@test "--new=pid,mnt --mount-proc: ps shows the command as pid 1 and no host process" {
    require_root
    run_tool nsenter-rs --new=pid,mnt --mount-proc -- ps -o pid=,comm=
    assert_eq "$(printf '%s\n' "$output" | awk '{print $1" "$2}')" "1 ps"
}

@test "--rootfs on a busybox rootfs: busybox ps sees only itself, as pid 1" {
    require_root
    run_tool nsenter-rs --new=pid,mnt,uts,ipc,net --rootfs "$R" -- ps -o pid,comm
    assert_eq "$(printf '%s\n' "$output" | sed 1d | awk '{print $1" "$2}')" "1 ps"
    # it really ran in the rootfs: the host's ps is procps, this one is busybox
    run_tool nsenter-rs --new=mnt --rootfs "$R" -- readlink /bin/ps
    assert_eq "$output" "/bin/busybox"
}

@test "--init: the command is pid 2 under a built-in pid 1" {
    require_root
    run_tool nsenter-rs --new=pid,mnt --mount-proc --init -- ps -o pid=,comm=
    assert_eq "$(printf '%s\n' "$output" | awk '{print $1" "$2}' | tr '\n' ' ')" "1 nsenter-rs 2 ps "
}

# zombies_of PID : zombie children of PID (the container's pid 1), as "comm" lines
zombies_of() {
    ps --ppid "$1" -o stat=,comm= | awk '$1 ~ /^Z/ {print $2}'
}

@test "--init reaps an orphaned zombie; without it the orphan stays a zombie" {
    require_root
    # 'sleep 0.2' is orphaned to pid 1 at once; the command then becomes a sleep that never
    # waits: only a reaping pid 1 collects the orphan
    for init in --init ""; do
        rm -f "$TEST_DIR/z.pid"
        # shellcheck disable=SC2086
        nsenter-rs --new=pid,mnt --mount-proc $init --pidfile "$TEST_DIR/z.pid" -- \
            sh -c '(sleep 0.2 &); exec sleep 8' 3>&- &
        p=$!
        track_pid "$p"
        wait_for_file "$TEST_DIR/z.pid"
        c=$(cat "$TEST_DIR/z.pid")
        z=''
        for _ in $(seq 20); do # up to ~2 s, while the container still runs
            z=$(zombies_of "$c")
            [ -z "$z" ] || break
            sleep 0.1
        done
        if [ -n "$init" ]; then
            assert_eq "$z" "" "no zombie under --init"
        else
            assert_eq "$z" "sleep" "the orphan is a zombie under a pid 1 that does not reap"
        fi
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" || true
    done
    rm -f "$TEST_DIR/z.pid"
}

@test "a hostname set inside is invisible outside" {
    require_root
    before=$(hostname)
    run_tool nsenter-rs --new=uts --hostname ctr-inside --domainname dom-inside -- sh -c 'hostname; domainname'
    assert_eq "$output" "ctr-inside
dom-inside"
    assert_eq "$(hostname)" "$before"
}

@test "a mount made inside does not appear on the host" {
    require_root
    mkdir -p "$TEST_DIR/m"
    run_tool nsenter-rs --new=mnt --cap-add sys_admin -- sh -c "mount -t tmpfs inside-tmpfs '$TEST_DIR/m' && findmnt -n -o SOURCE '$TEST_DIR/m'"
    assert_eq "$output" "inside-tmpfs"
    run_tool --rc 1 findmnt -n "$TEST_DIR/m"
}

@test "inside --rootfs: masked /proc paths, read-only /proc/sys and /sys" {
    require_root
    run_tool nsenter-rs --new=pid,mnt,uts,ipc,net --rootfs "$R" -- sh -c '
        for p in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug; do
            [ -e "$p" ] || continue; printf "%s %s\n" "$p" "$(wc -c <"$p")"; done
        ls /sys/firmware | wc -l
        echo x 2>/dev/null >/proc/sys/kernel/hostname && echo hostname-writable
        echo x 2>/dev/null >/proc/sysrq-trigger && echo sysrq-writable
        touch /sys/x 2>/dev/null && echo sys-writable
        grep " /proc/sys " /proc/self/mountinfo | grep -c " ro,"'
    # every masked file that exists reads as empty
    for p in /proc/keys /proc/timer_list; do
        assert_contains "$output" "$p 0"
    done
    if [ -e /proc/kcore ]; then assert_contains "$output" "/proc/kcore 0"; fi
    [[ "$output" != *writable* ]] || { echo "$output" >&2; return 1; }
    assert_eq "$(printf '%s\n' "$output" | tail -1)" "1" "/proc/sys is a read-only mount"
    assert_eq "$(printf '%s\n' "$output" | tail -2 | head -1)" "0" "/sys/firmware is empty"
}

@test "/dev: device nodes, pts with its own ptmx, shm, mqueue" {
    require_root
    run_tool nsenter-rs --new=pid,mnt,ipc --rootfs "$R" -- sh -c '
        for d in null zero full random urandom tty; do [ -c /dev/$d ] && echo $d; done
        readlink /dev/ptmx
        findmnt -n -o FSTYPE /dev/pts 2>/dev/null || awk "\$5 == \"/dev/pts\" {print \$9}" /proc/self/mountinfo
        grep -E " /dev/(shm|mqueue) " /proc/self/mountinfo | awk "$MOUNTS_AWK"
        head -c 4 /dev/zero | wc -c'
    assert_eq "$output" "null
zero
full
random
urandom
tty
pts/ptmx
devpts
/dev/shm tmpfs
/dev/mqueue mqueue
4"
}

@test "capabilities: exactly Docker's default set, inheritable empty, no_new_privs on" {
    require_root
    run_tool nsenter-rs --new=pid,mnt --rootfs "$R" -- cat /proc/self/status
    assert_eq "$(cap_field CapEff)" "00000000a80425fb"
    assert_eq "$(cap_field CapPrm)" "00000000a80425fb"
    assert_eq "$(cap_field CapBnd)" "00000000a80425fb"
    assert_eq "$(cap_field CapInh)" "0000000000000000"
    assert_eq "$(cap_field CapAmb)" "0000000000000000"
    assert_eq "$(printf '%s\n' "$output" | awk '$1 == "NoNewPrivs:" {print $2}')" "1"
}

@test "--cap-drop all leaves CapEff 0; --cap-add adds one; --allow-new-privs" {
    require_root
    run_tool nsenter-rs --new=pid,mnt --rootfs "$R" --cap-drop all -- cat /proc/self/status
    assert_eq "$(cap_field CapEff)" "0000000000000000"
    assert_eq "$(cap_field CapBnd)" "0000000000000000"
    run_tool nsenter-rs --new=pid,mnt --rootfs "$R" --cap-drop all --cap-add net_admin --allow-new-privs -- cat /proc/self/status
    assert_eq "$(cap_field CapEff)" "0000000000001000"
    assert_eq "$(printf '%s\n' "$output" | awk '$1 == "NoNewPrivs:" {print $2}')" "0"
}

@test "--privileged keeps the full set and leaves /proc unmasked" {
    require_root
    full=$(awk '$1 == "CapBnd:" {print $2}' /proc/self/status)
    run_tool nsenter-rs --new=pid,mnt --rootfs "$R" --privileged -- cat /proc/self/status
    assert_eq "$(cap_field CapEff)" "$full"
    run_tool nsenter-rs --new=pid,mnt --rootfs "$R" --privileged -- sh -c 'wc -c </proc/timer_list'
    [ "$output" -gt 0 ]
}

@test "--map-root-user: uid 0 inside is the caller outside" {
    require_root
    run_tool nsenter-rs --new=user --map-root-user -- sh -c 'id -u; cat /proc/self/uid_map'
    assert_eq "$(printf '%s\n' "$output" | head -1)" "0"
    assert_eq "$(printf '%s\n' "$output" | tail -1 | awk '{print $1, $2, $3}')" "0 0 1"
    # an unprivileged caller: root inside, nobody (65534) outside
    run_tool setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$CTRKIT_BIN/nsenter-rs" --new=user --map-root-user -- sh -c 'id -u; cat /proc/self/uid_map'
    assert_eq "$(printf '%s\n' "$output" | head -1)" "0"
    assert_eq "$(printf '%s\n' "$output" | tail -1 | awk '{print $1, $2, $3}')" "0 65534 1"
}

@test "--uid-map/--gid-map and --user: the process's ids as the host sees them" {
    require_root
    nsenter-rs --new=user,pid,mnt --uid-map 0:100000:65536 --gid-map 0:100000:65536 \
        --mount-proc --user 1000:1000 --pidfile "$TEST_DIR/umap.pid" -- sleep 5 3>&- &
    track_pid $!
    wait_for_file "$TEST_DIR/umap.pid"
    sleep 0.2
    p=$(cat "$TEST_DIR/umap.pid")
    assert_eq "$(awk '$1 == "Uid:" {print $2}' "/proc/$p/status")" "101000"
    assert_eq "$(awk '$1 == "Gid:" {print $2}' "/proc/$p/status")" "101000"
    kill_tracked
}

@test "--pin keeps the namespaces; nsenter-rs --net=DIR/net sees the same inode; --unpin releases" {
    require_root
    pins="$TEST_DIR/pins"
    run_tool nsenter-rs --new=net,uts --hostname pinned --pin "$pins" -- true
    ino=$(stat -L -c %i "$pins/net")
    run_tool nsenter-rs --net="$pins/net" -- readlink /proc/self/ns/net
    assert_eq "$output" "net:[$ino]"
    [ "$output" != "$(readlink /proc/self/ns/net)" ]
    run_tool nsenter-rs --uts="$pins/uts" -- hostname
    assert_eq "$output" "pinned"
    run_tool nsenter-rs --unpin "$pins"
    [ ! -e "$pins" ]
    run_tool --rc 1 grep -F "$pins" /proc/self/mountinfo
}

@test "--pin without a command: net, uts and ipc made, set up and pinned by nsenter-rs itself" {
    require_root
    pins="$TEST_DIR/pins-only"
    run_tool nsenter-rs --new=net,uts,ipc --loopback --hostname alone --pin "$pins"
    assert_eq "$output" ""
    # the namespaces are not ours, and they live on with no process in them
    [ "$(stat -L -c %i "$pins/net")" != "$(stat -L -c %i /proc/self/ns/net)" ]
    run_tool nsenter --net="$pins/net" --uts="$pins/uts" sh -c 'hostname; ip -o link show lo'
    assert_match "$output" "^alone"$'\n'"1: lo: <LOOPBACK,UP,LOWER_UP>"
    run_tool nsenter-rs --unpin "$pins"
    [ ! -e "$pins" ]
    # pid and mnt need a process; so do --pidfile and --cgroup
    run_tool --rc 2 nsenter-rs --new=pid --pin "$pins"
    assert_error nsenter-rs "'pid' needs a command"
    run_tool --rc 2 nsenter-rs --new=net --pin "$pins" --pidfile "$TEST_DIR/p"
    assert_error nsenter-rs "--pidfile needs a command"
    run_tool --rc 2 nsenter-rs --new=net --pin "$pins" --env A=1
    assert_error nsenter-rs "--env needs a command"
    [ ! -e "$pins" ]
}

@test "--join TYPE=FILE joins an existing namespace while creating the others" {
    require_root
    pins="$TEST_DIR/pins-join"
    run_tool nsenter-rs --new=net --pin "$pins" -- true
    ino=$(stat -L -c %i "$pins/net")
    run_tool nsenter-rs --new=pid,mnt,uts --join net="$pins/net" --rootfs "$R" -- readlink /proc/self/ns/net
    assert_eq "$output" "net:[$ino]"
    run_tool nsenter-rs --unpin "$pins"
}

@test "--bind, --tmpfs, --read-only, --workdir, --env, --env-file, --clear-env" {
    require_root
    mkdir -p "$TEST_DIR/vol" && echo hello >"$TEST_DIR/vol/file"
    printf '# comment\nFROM_FILE=yes\n\n' >"$TEST_DIR/envfile"
    run_tool nsenter-rs --new=pid,mnt --rootfs "$R" --read-only --clear-env \
        --bind "$TEST_DIR/vol:/vol:ro" --bind "$TEST_DIR/vol:/rw" --tmpfs /scratch:1m \
        --workdir /vol --env A=1 --env MOUNTS_AWK --env-file "$TEST_DIR/envfile" -- sh -c '
        cat file; pwd; echo "$A $FROM_FILE ${HOME:-nohome}"
        touch /vol/x 2>/dev/null && echo vol-writable
        touch /rootfile 2>/dev/null && echo root-writable
        touch /rw/ok && echo rw-ok
        touch /scratch/ok && echo tmpfs-ok
        grep " /scratch " /proc/self/mountinfo | awk "$MOUNTS_AWK"'
    assert_eq "$output" "hello
/vol
1 yes nohome
rw-ok
tmpfs-ok
/scratch tmpfs"
    [ -f "$TEST_DIR/vol/ok" ]
    [ ! -e "$R/rootfile" ]
}

@test "--sysctl sets a namespaced sysctl inside only" {
    require_root
    host=$(cat /proc/sys/net/ipv4/ip_forward)
    want=$((1 - host))
    run_tool nsenter-rs --new=net --sysctl "net.ipv4.ip_forward=$want" -- cat /proc/sys/net/ipv4/ip_forward
    assert_eq "$output" "$want"
    assert_eq "$(cat /proc/sys/net/ipv4/ip_forward)" "$host"
}

@test "--rlimit sets limits; raising above the hard limit is a clear error" {
    require_root
    run_tool nsenter-rs --new=pid --rlimit nofile=512:1024 -- sh -c 'ulimit -n; ulimit -Hn'
    assert_eq "$output" "512
1024"
    hard=$(ulimit -Hn)
    [ "$hard" != unlimited ] || skip "nofile hard limit is unlimited here"
    if capsh --has-p=cap_sys_resource 2>/dev/null; then skip "root has CAP_SYS_RESOURCE here"; fi
    run_tool --rc 125 nsenter-rs --new=pid --rlimit "nofile=$((hard + 1000)):$((hard + 1000))" -- true
    assert_error nsenter-rs "above the hard limit $hard"
}

@test "--loopback brings up lo in the new net namespace; without it lo is down" {
    require_root
    run_tool nsenter-rs --new=net --loopback -- ip -o link show
    assert_match "$output" "^1: lo: <LOOPBACK,UP,LOWER_UP>"
    assert_eq "$(printf '%s\n' "$output" | wc -l)" 1
    run_tool nsenter-rs --new=net -- ip -o link show lo
    assert_match "$output" "^1: lo: <LOOPBACK>"
    run_tool --rc 2 nsenter-rs --new=pid --loopback -- true
    assert_error nsenter-rs "--loopback needs a new net namespace"
}

@test "--cgroup PATH joins it in every hierarchy where it exists" {
    require_root
    cg="$TEST_CGROUP/nsrs-join"
    mkdir -p "/sys/fs/cgroup/pids/$cg"
    [ ! -d /sys/fs/cgroup/unified ] || mkdir -p "/sys/fs/cgroup/unified/$cg"
    run_tool nsenter-rs --new=uts --cgroup "$cg" -- cat /proc/self/cgroup
    assert_match "$output" ":pids:/$cg"$'(\n|$)'
    if [ -d /sys/fs/cgroup/unified ]; then assert_match "$output" "(^|"$'\n'")0::/$cg"; fi
    [[ "$output" != *"memory:/$cg"* ]]
    # the whole process is there, as the host sees it (the child moved its only thread)
    run_tool nsenter-rs --new=pid,uts --cgroup "$cg" -- sh -c 'sleep 0.1 & cat /proc/self/cgroup; wait'
    assert_match "$output" ":pids:/$cg"$'(\n|$)'
    # in a new user namespace the parent moves it
    run_tool nsenter-rs --new=user,uts --map-root-user --cgroup "$cg" -- cat /proc/self/cgroup
    assert_match "$output" ":pids:/$cg"$'(\n|$)'
    if [ -d /sys/fs/cgroup/unified ]; then assert_match "$output" "(^|"$'\n'")0::/$cg"; fi
    # an absolute cgroupfs directory names just itself
    run_tool nsenter-rs --new=uts --cgroup "/sys/fs/cgroup/pids/$cg" -- cat /proc/self/cgroup
    assert_match "$output" ":pids:/$cg"
    rmdir "/sys/fs/cgroup/pids/$cg"
    [ ! -d "/sys/fs/cgroup/unified/$cg" ] || rmdir "/sys/fs/cgroup/unified/$cg"
}

@test "--detach prints the host PID and returns; --pidfile holds the same PID" {
    require_root
    run_tool nsenter-rs --new=pid,mnt --mount-proc --detach --pidfile "$TEST_DIR/d.pid" -- sleep 30
    track_pid "$output"
    assert_eq "$output" "$(cat "$TEST_DIR/d.pid")"
    assert_eq "$(cat "/proc/$output/comm")" "sleep"
    [ "$(readlink "/proc/$output/ns/pid")" != "$(readlink /proc/self/ns/pid)" ]
    kill -KILL "$output"
    kill_tracked
    rm -f "$TEST_DIR/d.pid"
}

@test "exit status: the command's own, 128+N when killed" {
    require_root
    run_tool --rc 7 nsenter-rs --new=pid,mnt --mount-proc -- sh -c 'exit 7'
    run_tool --rc 137 nsenter-rs --new=uts -- sh -c 'kill -KILL $$'
}

@test "SIGTERM to nsenter-rs stops the container: exit 143 (with --init, and without a pid ns)" {
    require_root
    nsenter-rs --new=pid,mnt --mount-proc --init --pidfile "$TEST_DIR/t.pid" -- sleep 100 3>&- &
    p=$!
    track_pid "$p"
    wait_for_file "$TEST_DIR/t.pid"
    sleep 0.3
    kill -TERM "$p"
    rc=0
    wait "$p" || rc=$?
    assert_eq "$rc" "143"
    gone "$(cat "$TEST_DIR/t.pid")"
    rm -f "$TEST_DIR/t.pid"

    nsenter-rs --new=uts -- sleep 100 3>&- &
    p=$!
    track_pid "$p"
    sleep 0.3
    kill -TERM "$p"
    rc=0
    wait "$p" || rc=$?
    assert_eq "$rc" "143"
}

@test "SIGKILL to nsenter-rs leaves no process behind" {
    require_root
    nsenter-rs --new=pid,mnt --mount-proc --pidfile "$TEST_DIR/k.pid" -- sh -c 'sleep 100 & sleep 100' 3>&- &
    p=$!
    track_pid "$p"
    wait_for_file "$TEST_DIR/k.pid"
    c=$(cat "$TEST_DIR/k.pid")
    sleep 0.3
    track_pid "$c"
    ns=$(readlink "/proc/$c/ns/pid")
    kill -KILL "$p"
    wait "$p" || true
    gone "$c"
    sleep 0.2
    # nothing at all is left in the container's pid namespace
    for d in /proc/[0-9]*; do
        [ "$(awk '{print $3}' "$d/stat" 2>/dev/null)" != Z ] || continue
        [ "$(readlink "$d/ns/pid" 2>/dev/null)" != "$ns" ] || { echo "left: $d $(cat "$d/cmdline" | tr '\0' ' ')" >&2; return 1; }
    done
    rm -f "$TEST_DIR/k.pid"
}

@test "descriptors above 2 are closed at exec; --preserve-fds N keeps 3..3+N-1" {
    require_root
    run_tool nsenter-rs --new=pid,mnt --rootfs "$R" -- ls /proc/self/fd 4</dev/null 5</dev/null 9</dev/null
    # 0-2, and 3: ls's own listing of the directory
    assert_eq "$(printf '%s\n' "$output" | tr '\n' ' ')" "0 1 2 3 "
    run_tool nsenter-rs --new=pid,mnt --rootfs "$R" --preserve-fds 3 -- ls /proc/self/fd 4</dev/null 5</dev/null 9</dev/null
    assert_eq "$(printf '%s\n' "$output" | tr '\n' ' ')" "0 1 2 3 4 5 6 "
    # the built-in init keeps none either (pid 1 never execs: it closes them)
    nsenter-rs --new=pid,mnt --rootfs "$R" --init --pidfile "$TEST_DIR/fd.pid" -- sleep 300 5</dev/null 3>&- &
    track_pid $!
    wait_for_file "$TEST_DIR/fd.pid"
    # (the pidfile names the container's pid 1: here the init)
    assert_eq "$(ls "/proc/$(cat "$TEST_DIR/fd.pid")/fd" | sort -n | tr '\n' ' ')" "0 1 2 "
    kill_tracked
}

@test "the container leads a new session with no controlling terminal; it is not dumpable before exec" {
    require_root
    # /proc/PID/stat: field 6 the session, 7 the controlling tty (0: none)
    run_tool nsenter-rs --new=pid,mnt --rootfs "$R" -- sh -c 'cut -d" " -f6,7 /proc/self/stat'
    assert_eq "$output" "1 0"
    # the built-in init stays nsenter-rs, non-dumpable: its exe cannot be opened from inside
    run_tool nsenter-rs --new=pid,mnt --rootfs "$R" --init -- sh -c \
        'readlink /proc/1/exe || echo NO-LINK; cat /proc/1/environ >/dev/null || echo NO-ENVIRON'
    assert_contains "$output" NO-LINK
    assert_contains "$output" NO-ENVIRON
}

@test "a working directory through a descriptor's link under /proc is refused" {
    require_root
    run_tool --rc 125 nsenter-rs --new=pid,mnt --rootfs "$R" --workdir /proc/self/fd/7 -- pwd 7<"$TEST_DIR"
    assert_error nsenter-rs "working directory /proc/self/fd/7"
    run_tool --rc 125 nsenter-rs --new=pid,mnt --rootfs "$R" --workdir /proc/1/fd/7 -- pwd 7<"$TEST_DIR"
}

# code_rss PID PROG : "SIZE RSS" (KiB) of PID's executable code mapping (r-xp) of program PROG
code_rss() {
    awk -v prog="$2" '/^[0-9a-f]+-/ { perm = $2; file = $6 }
        /^Size:/ { size = $2 }
        /^Rss:/ { if (perm == "r-xp" && file ~ prog) print size, $2 }' "/proc/$1/smaps"
}

@test "waiting for its container, nsenter-rs keeps little of its code resident (RSS, OOM score)" {
    require_root
    nsenter-rs --new=pid,mnt,uts,ipc --rootfs "$R" -- sleep 30 3>&- &
    local p=$!
    track_pid "$p"
    local i=0
    # (its child, the container, runs; then the wait settles)
    until [ -n "$(cat "/proc/$p/task/$p/children" 2>/dev/null)" ] || [ $i -ge 100 ]; do sleep 0.05 && i=$((i + 1)); done
    sleep 0.2
    local size rss
    read -r size rss < <(code_rss "$p" nsenter-rs)
    kill "$p"
    # its code pages were dropped from its page tables once it settled to wait: what stays
    # is what the wait itself ran (without the drop: ~90% of the mapping)
    echo "code mapping ${size} KiB, resident ${rss} KiB" >&2
    [ "$rss" -lt $((size / 2)) ]
}
