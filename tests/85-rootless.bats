#!/usr/bin/env bats
# Rootless (issue 21): a real unprivileged user this file creates (subordinate ID ranges in
# /etc/subuid and /etc/subgid, removed with the user and its files in teardown) runs
# containers with ctrkit's tools and the system's newuidmap/newgidmap and pasta -- no root,
# no setuid binary of ctrkit's own.

load helpers
load 60-ctr-helpers

setup_file() {
    ctr_setup_file
    require_root
    command -v newuidmap >/dev/null || skip "newuidmap (uidmap) missing: scripts/deps.sh"
    export RL_USER="ctrk85u$$"
    useradd -m -s /bin/sh "$RL_USER"
    RL_UID=$(id -u "$RL_USER") RL_GID=$(id -g "$RL_USER")
    RL_HOME=$(getent passwd "$RL_USER" | cut -d: -f6)
    # a range of its own (useradd adds one when login.defs says so)
    if ! grep -q "^$RL_USER:" /etc/subuid; then
        echo "$RL_USER:$((300000 + ($$ % 1000) * 65536)):65536" >>/etc/subuid
    fi
    if ! grep -q "^$RL_USER:" /etc/subgid; then
        echo "$RL_USER:$((300000 + ($$ % 1000) * 65536)):65536" >>/etc/subgid
    fi
    RL_SUBUID=$(grep "^$RL_USER:" /etc/subuid | cut -d: -f2)
    RL_SUBGID=$(grep "^$RL_USER:" /etc/subgid | cut -d: -f2)
    export RL_UID RL_GID RL_HOME RL_SUBUID RL_SUBGID
    export RL_RUN="/tmp/ctrk85-run-$$"
    install -d -m 700 -o "$RL_USER" -g "$RL_GID" "$RL_RUN"
    # what root's default places hold now: nothing of the user's may appear there
    export RL_MARK="$TEST_DIR/mark"
    touch "$RL_MARK"
    # the default image, made by the user into its own store
    as_user mkimage-busybox >/dev/null
}

teardown_file() {
    if [ -n "${RL_USER-}" ]; then
        # the user's containers a failed test left (by their records: never by name)
        for c in "$RL_RUN"/ctrkit/containers/*; do
            [ -d "$c" ] || continue
            if [ -n "${TEST_HOST_PID-}" ] && [ -d "/proc/$TEST_HOST_PID" ]; then
                host_user ctr-rm -f "${c##*/}" || true
            else
                as_user ctr-rm -f "${c##*/}" || true
            fi
        done
        userdel -r "$RL_USER" 2>/dev/null || true
        sed -i "/^$RL_USER:/d" /etc/subuid /etc/subgid
        rm -rf "$RL_RUN" "/tmp/ctrkit-$RL_UID"
    fi
    ctr_teardown_file
}

teardown() {
    kill_tracked
}

# as_user CMD... : CMD as the test user, with a clean environment of its own (HOME,
# XDG_RUNTIME_DIR, PATH with ctrkit's tools; none of the test's CTRKIT_* variables)
as_user() {
    setpriv --reuid="$RL_UID" --regid="$RL_GID" --init-groups \
        env -i HOME="$RL_HOME" XDG_RUNTIME_DIR="${RL_XDG-$RL_RUN}" USER="$RL_USER" \
        PATH="$CTRKIT_BIN:$CTRKIT_SRC/scripts:/usr/sbin:/usr/bin:/sbin:/bin" \
        sh -c 'cd / && exec "$@"' sh "$@"
}

# rootless_host : a test host for the user-mode network: a veth pair with an address and a
# default route (pasta copies them), /dev/net/tun open to users (here it is 0600)
rootless_host() {
    command -v pasta >/dev/null || skip "pasta (passt) missing: scripts/deps.sh"
    create_test_host
    in_host ip link add rl0 type veth peer name rl1
    in_host ip addr add 192.0.2.2/24 dev rl0
    in_host ip link set rl0 up
    in_host ip link set rl1 up
    in_host ip route add default via 192.0.2.1
    in_host mount -t tmpfs -o size=1m,mode=755 tmpfs /dev/net
    in_host mknod -m 666 /dev/net/tun c 10 200
}

# host_user CMD... : as_user inside the test host
host_user() {
    nsenter -t "$TEST_HOST_PID" -n -m setpriv --reuid="$RL_UID" --regid="$RL_GID" --init-groups \
        env -i HOME="$RL_HOME" XDG_RUNTIME_DIR="$RL_RUN" USER="$RL_USER" \
        PATH="$CTRKIT_BIN:$CTRKIT_SRC/scripts:/usr/sbin:/usr/bin:/sbin:/bin" \
        sh -c 'cd / && exec "$@"' sh "$@"
}

@test "rootless: container root is the user: id -u prints 0, the process runs as the user's uid on the host" {
    run -0 as_user ctr-run --rm --network none busybox id -u
    assert_eq "$output" 0
    run -0 as_user ctr-run -d --name rl1 --network none busybox sleep 60
    pid=$(cat "$RL_RUN/ctrkit/containers/rl1/pid")
    # the host sees the user's uid; its user namespace maps the user's subordinate range
    # (written by newuidmap: a user alone may map only its own ID)
    assert_match "$(grep '^Uid:' "/proc/$pid/status")" "^Uid:\s+$RL_UID\s+$RL_UID\s"
    assert_match "$(cat "/proc/$pid/uid_map")" "^\s*0\s+$RL_UID\s+1\s+1\s+$RL_SUBUID\s+65536"
    [ "$(readlink "/proc/$pid/ns/user")" != "$(readlink /proc/self/ns/user)" ]
    # ctr-exec enters it (the user namespace first) as the container's root
    run -0 as_user ctr-exec rl1 id -u
    assert_eq "$output" 0
    # a user inside is a subordinate ID outside
    run -0 as_user ctr-run -d --name rl2 --network none -u 1000:1000 busybox sh -c 'mkdir /tmp/d && echo x >/tmp/d/f && exec sleep 60'
    pid2=$(cat "$RL_RUN/ctrkit/containers/rl2/pid")
    assert_match "$(grep '^Uid:' "/proc/$pid2/status")" "^Uid:\s+$((RL_SUBUID + 999))\s"
    run -0 as_user ctr-exec rl2 id -u
    assert_eq "$output" 1000
    run -0 as_user ctr-ls -q
    assert_eq "$(echo "$output" | grep -c '')" 2
    wait_for test -e "$RL_HOME/.local/share/ctrkit/layers/containers/rl2/upper/tmp/d/f"
    # a file of the container's uid 1000 is a subordinate ID's outside
    assert_eq "$(stat -c %u "$RL_HOME/.local/share/ctrkit/layers/containers/rl2/upper/tmp/d/f")" "$((RL_SUBUID + 999))"
    run -0 as_user ctr-rm -f rl1 rl2
    [ ! -e "$RL_RUN/ctrkit/containers/rl1" ]
    # ...and yet the user removed it (inside a user namespace with its map)
    [ ! -e "$RL_HOME/.local/share/ctrkit/layers/containers/rl2" ]
    [ -z "$(ls "$RL_HOME/.local/share/ctrkit/layers/tmp")" ]
    [ ! -e "/proc/$pid" ] || ! grep -q sleep "/proc/$pid/cmdline"
}

@test "rootless: --userns keep-id keeps the user's uid inside" {
    run -0 as_user ctr-run --rm --network none --userns keep-id busybox id -u
    assert_eq "$output" "$RL_UID"
}

@test "rootless: the store lands in the user's home and the state in XDG_RUNTIME_DIR, nothing in /var/lib/ctrkit or /run/ctrkit" {
    run -0 as_user ctr-run --name rl3 --network none busybox true
    [ -d "$RL_HOME/.local/share/ctrkit/layers/containers/rl3" ]
    [ "$(stat -c %U "$RL_HOME/.local/share/ctrkit/layers")" = "$RL_USER" ]
    [ -d "$RL_RUN/ctrkit/containers/rl3" ]
    [ "$(stat -c %a "$RL_RUN/ctrkit")" = 700 ]
    run -0 as_user layermount images
    assert_contains "$output" busybox
    run -0 as_user ctr-rm rl3
    [ ! -e "$RL_HOME/.local/share/ctrkit/layers/containers/rl3" ]
    # no XDG_RUNTIME_DIR: a folder of the user's own under /tmp, 0700
    RL_XDG='' run -0 as_user ctr-run --rm --network none busybox true
    [ "$(stat -c '%U %a' "/tmp/ctrkit-$RL_UID")" = "$RL_USER 700" ]
    # root's places: nothing new of the user's (the run made none of them)
    for d in /var/lib/ctrkit /run/ctrkit; do
        [ ! -e "$d" ] || [ -z "$(find "$d" -user "$RL_USER" -print -quit)" ]
        [ ! -e "$d" ] || [ -z "$(find "$d" -newer "$RL_MARK" -uid "$RL_UID" -print -quit)" ]
    done
}

@test "rootless: --memory is refused with one line naming the missing delegation; without limits no cgroup is made" {
    run -125 as_user ctr-run --rm --network none --memory 32M busybox true
    assert_eq "$(echo "$output" | grep -c '')" 1
    assert_match "$output" "^ctr-run: error: --memory: resource limits need a cgroup delegated to uid $RL_UID"
    run -125 as_user ctr-run --rm --network none --pids-limit 10 busybox true
    assert_contains "$output" "--pids-limit"
    [ -z "$(ls "$RL_RUN/ctrkit/containers")" ]
    # a container without limits runs in the user's own cgroup: none was made for it
    run -0 as_user ctr-run --rm --network none busybox cat /proc/self/cgroup
    [ "$output" = "$(cat /proc/self/cgroup)" ] || ! grep -q "ctrkit" <<<"$output"
}

@test "rootless: bridges need root: --network bridge and netbridge say so in one line" {
    run -125 as_user ctr-run --rm --network bridge busybox true
    assert_match "$output" "^ctr-run: error: --network bridge: bridges need root"
    run -1 as_user netbridge create rl85br --subnet 10.185.0.0/24
    assert_eq "$output" "netbridge: error: bridges need root (uid $RL_UID is not root); rootless containers use ctr-run's user-mode network (pasta) or --network none"
    run -0 as_user netbridge ls
}

@test "rootless: the default network is pasta's: -p 18090:80 answers on the host's 127.0.0.1, and it ends with the container" {
    rootless_host
    run -0 host_user ctr-run -d --name web -p 18090:80 busybox \
        sh -c 'echo hello-from-rootless >/tmp/index.html && exec httpd -f -p 80 -h /tmp'
    pid=$(cat "$RL_RUN/ctrkit/containers/web/pid")
    # the container has its own network namespace with pasta's interface (a copy of the
    # test host's address), not the host's
    [ "$(readlink "/proc/$pid/ns/net")" != "$(readlink "/proc/$TEST_HOST_PID/ns/net")" ]
    assert_contains "$(cat "/proc/$pid/net/dev")" "rl0:"
    wait_for in_host curl -sf -o /dev/null http://127.0.0.1:18090/index.html
    run -0 in_host curl -sf http://127.0.0.1:18090/index.html
    assert_eq "$output" hello-from-rootless
    passt=$(cat "$RL_RUN/ctrkit/containers/web/pasta.pid")
    [ -d "/proc/$passt" ]
    run -0 host_user ctr-rm -f web
    # pasta went with it: the port is free again
    run ! in_host curl -sf -o /dev/null --max-time 2 http://127.0.0.1:18090/index.html
    grep -q '^State:\s*[ZX]' "/proc/$passt/status" 2>/dev/null || [ ! -d "/proc/$passt" ]
}

# outside_listener : "outside" for the user-mode network, with no internet and no host eth0:
# 198.51.100.1/24 on the test host's other veth end (an address of the host that is not
# loopback; no dummy interface in this kernel) and an httpd there, another on the test host's
# own 127.0.0.1 (pasta turns the container's connections into sockets of the
# namespace it runs in: the test host)
outside_listener() {
    in_host ip addr add 198.51.100.1/24 dev rl1
    mkdir -p "$TEST_DIR/www"
    echo outside-answers >"$TEST_DIR/www/f"
    # (nsenter execs httpd: $! is httpd itself, which kill_tracked ends; bats' fd 3 closed)
    nsenter -t "$TEST_HOST_PID" -n -m busybox httpd -f -p 198.51.100.1:18091 -h "$TEST_DIR/www" 3>&- &
    track_pid $!
    nsenter -t "$TEST_HOST_PID" -n -m busybox httpd -f -p 127.0.0.1:18092 -h "$TEST_DIR/www" 3>&- &
    track_pid $!
    wait_for in_host busybox wget -q -O /dev/null http://198.51.100.1:18091/f
    wait_for in_host busybox wget -q -O /dev/null http://127.0.0.1:18092/f
}

@test "rootless: the default network reaches the outside: an address of the host, and its loopback through the gateway" {
    rootless_host
    outside_listener
    chmod 755 "$TEST_DIR" "$TEST_DIR/www"
    # (a request by hand: busybox-static's wget crashes in a rootfs without glibc's NSS;
    # the request side stays open a second: this pasta (passt 2023-03) loses the server's
    # close once the container has half-closed, and nc would wait forever)
    # shellcheck disable=SC2016 # ($0 and $1 are the container's sh's)
    get='(printf "GET /f HTTP/1.0\r\n\r\n"; sleep 1) | timeout 10 nc "$0" "$1" | tail -n 1'
    run -0 host_user ctr-run --rm busybox sh -c "$get" 198.51.100.1 18091
    assert_eq "$output" outside-answers
    # the gateway pasta gives the container (the test host's default route) is the host's
    # own loopback: a service on 127.0.0.1 of the host
    run -0 host_user ctr-run --rm busybox sh -c "ip route | grep default; $get" 192.0.2.1 18092
    assert_eq "$output" "$(printf 'default via 192.0.2.1 dev rl0 \noutside-answers')"
    # without a network the same request has nowhere to go
    run -0 host_user ctr-run --rm --network none busybox sh -c "$get" 198.51.100.1 18091
    assert_eq "$output" "nc: can't connect to remote host (198.51.100.1): Network is unreachable"
}

@test "rootless: --network none and container:NAME share one namespace" {
    run -0 as_user ctr-run -d --name rla --network none busybox sleep 60
    pa=$(cat "$RL_RUN/ctrkit/containers/rla/pid")
    run -0 as_user ctr-run --rm --network container:rla busybox readlink /proc/self/ns/net
    assert_eq "$output" "$(readlink "/proc/$pa/ns/net")"
    [ "$output" != "$(readlink /proc/self/ns/net)" ]
    # its own pid namespace, in rla's user namespace
    run -0 as_user ctr-run --rm --network container:rla busybox sh -c 'echo $$'
    assert_eq "$output" 1
    run -0 as_user ctr-rm -f rla
}

@test "rootless: the image's layers are an overlay mounted inside the user namespace; diff and commit work for the user" {
    run -0 as_user ctr-run -d --name rlc --network none busybox sh -c 'echo x >/newfile && rm /bin/ls && exec sleep 60'
    pid=$(cat "$RL_RUN/ctrkit/containers/rlc/pid")
    wait_for test -e "$RL_HOME/.local/share/ctrkit/layers/containers/rlc/upper/newfile"
    # the container's root is overlayfs, in its own mount namespace; the host has no mount
    assert_match "$(awk '$5 == "/" { sub(/.* - /, ""); print $1 }' "/proc/$pid/mountinfo")" "^overlay$"
    findmnt -rn -o TARGET >"$TEST_DIR/mounts"
    run ! grep -qF "$RL_RUN/ctrkit/containers/rlc" "$TEST_DIR/mounts"
    run -0 as_user layermount diff rlc
    assert_contains "$output" "A /newfile"
    assert_contains "$output" "D /bin/ls"
    run -0 as_user ctr-commit rlc rl85img
    run -0 as_user ctr-run --rm --network none --pull never rl85img sh -c 'cat /newfile; test ! -e /bin/ls && echo gone'
    assert_eq "$output" "$(printf 'x\ngone')"
    run -0 as_user ctr-rm -f rlc
    [ ! -e "$RL_HOME/.local/share/ctrkit/layers/containers/rlc" ]
    [ -z "$(ls "$RL_HOME/.local/share/ctrkit/layers/tmp")" ]
}

# has FILE TEXT : FILE holds the line TEXT
has() {
    [ "$(cat "$1" 2>/dev/null)" = "$2" ]
}

# gone PID : process PID has ended (a zombie counts: pasta's parent is not ours to reap it)
gone() {
    [ ! -d "/proc/$1" ] || grep -q '^State:\s*[ZX]' "/proc/$1/status" 2>/dev/null
}

@test "rootless: pasta ends with each run: a --restart on-failure:1 -p container answers again after its restart, and frees the port when it ends" {
    rootless_host
    d=$RL_RUN/ctrkit/containers/rs
    # shellcheck disable=SC2016 # (the container's sh expands them)
    run -0 host_user ctr-run -d --name rs --restart on-failure:1 -p 18093:80 busybox sh -c \
        'rm -f /tmp/stop; echo run-$$-$(cat /proc/sys/kernel/random/uuid) >/tmp/index.html; httpd -p 80 -h /tmp
         while [ ! -e /tmp/stop ]; do sleep 0.2; done; exit 3'
    wait_for in_host curl -sf -o /dev/null http://127.0.0.1:18093/index.html
    run -0 in_host curl -sf http://127.0.0.1:18093/index.html
    first=$output
    p1=$(cat "$d/pasta.pid")
    [ -d "/proc/$p1" ]
    # the first run fails: its pasta goes with it, the restart's pasta binds the port again
    run -0 host_user ctr-exec rs touch /tmp/stop
    wait_for has "$d/restart-count" 1
    wait_for in_host curl -sf -o /dev/null http://127.0.0.1:18093/index.html
    run -0 in_host curl -sf http://127.0.0.1:18093/index.html
    assert_match "$output" "^run-1-"
    [ "$output" != "$first" ]
    gone "$p1"
    p2=$(cat "$d/pasta.pid")
    [ "$p2" != "$p1" ]
    # the second run fails for good (on-failure:1): before any ctr-rm, its pasta is gone and
    # the port is free
    run -0 host_user ctr-exec rs touch /tmp/stop
    wait_for has "$d/exit" 3
    wait_for gone "$p2"
    run ! in_host curl -sf -o /dev/null --max-time 2 http://127.0.0.1:18093/index.html
    assert_eq "$(cat "$d/restart-count")" 1
    [ -d "$d" ]
    run -0 host_user ctr-rm rs
}

@test "rootless: an image's owners map through the user namespace: uid 1000 inside, the range's uid 1000 outside; rm removes them" {
    # busybox's files plus /home/user and a file there owned by 1000:1000 (a rootfs tar)
    run -0 as_user layermount export busybox -o "$RL_RUN/bb.tar"
    python3 - "$RL_RUN/bb.tar" "$RL_RUN/own.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1]) as src, tarfile.open(sys.argv[2], "w") as dst:
    for m in src.getmembers():
        dst.addfile(m, src.extractfile(m) if m.isfile() else None)
    d = tarfile.TarInfo("home/user"); d.type = tarfile.DIRTYPE; d.mode = 0o700
    d.uid = d.gid = 1000
    dst.addfile(d)
    f = tarfile.TarInfo("home/user/f"); f.size = 3; f.mode = 0o600
    f.uid = f.gid = 1000
    dst.addfile(f, io.BytesIO(b"hi\n"))
PY
    chown "$RL_UID" "$RL_RUN/own.tar"
    run -0 as_user layermount import "$RL_RUN/own.tar" --name rl85own
    run -0 as_user ctr-run --rm --network none --pull never rl85own sh -c 'stat -c "%u %g %a" /home/user /home/user/f; cat /home/user/f'
    assert_eq "$output" "$(printf '1000 1000 700\n1000 1000 600\nhi')"
    # ...and they read it as uid 1000
    run -0 as_user ctr-run --rm --network none --pull never -u 1000:1000 rl85own cat /home/user/f
    assert_eq "$output" hi
    # on the host the layer's file belongs to the user's range (its uid 1000), not the user
    f=$(find "$RL_HOME/.local/share/ctrkit/layers" -path '*/home/user/f' -print -quit)
    [ -n "$f" ]
    assert_eq "$(stat -c '%u %g' "$f")" "$((RL_SUBUID + 999)) $((RL_SUBGID + 999))"
    # ctr-commit keeps them: a file uid 1000 made is uid 1000 in the new image
    run -0 as_user ctr-run --name rlown --network none --pull never -u 1000:1000 rl85own sh -c 'echo g >/home/user/g'
    run -0 as_user ctr-commit rlown rl85own2
    run -0 as_user ctr-rm rlown
    run -0 as_user ctr-run --rm --network none --pull never rl85own2 stat -c "%u %g" /home/user/g /home/user/f
    assert_eq "$output" "$(printf '1000 1000\n1000 1000')"
    # removed again by the user (inside its user namespace): nothing of the range's is left
    run -0 as_user layermount rm rl85own2
    run -0 as_user layermount rm rl85own
    run -0 as_user layermount gc
    [ -z "$(find "$RL_HOME/.local/share/ctrkit" -uid "$((RL_SUBUID + 999))" -print -quit)" ]
}
