#!/usr/bin/env bats
# netbridge at scale: 200 network namespaces on one network, each with a name, --etc files
# and a published port. Names resolve through every container's hosts file (one file per
# network, kept in place), published ports answer, removing one container leaves the other
# 199's names and ports as they were (its own rule deleted by handle, no other rule touched),
# and the teardown leaves nothing. All inside a test host.

load helpers
load 40-netbridge-lib

N=200

setup() {
    netbridge_setup
}

# resolve HOSTSFILE NAME : NAME's address as a program in a container whose /etc/hosts is
# HOSTSFILE bound read-only (the bind follows the symlink, as a launcher's does) sees it
resolve() {
    # shellcheck disable=SC2016 # (sh -c takes them as its arguments)
    "${H[@]}" unshare -m sh -c 'mount --bind "$1" /etc/hosts && mount -o remount,bind,ro /etc/hosts &&
        getent hosts "$2"' sh "$1" "$2" | awk '{print $1}'
}

# published_handles : "HANDLE COMMENT" lines of chain published, sorted by handle
published_handles() {
    "${H[@]}" nft -j list chain ip ctrkit published |
        jq -r '.nftables[] | select(.rule) | "\(.rule.handle) \(.rule.comment)"' | sort -n
}

# fetch [--rc N|any] PORT : what the test host gets from its 127.0.0.1:PORT (into $output)
fetch() {
    local rc=(--rc 0)
    [ "$1" != --rc ] || { rc=(--rc "$2"); shift 2; }
    run_tool "${rc[@]}" "${H[@]}" timeout 5 busybox wget -qO- "http://127.0.0.1:$1/"
}

serve() {
    mkdir -p "$TEST_DIR/www-$1"
    echo "$2" >"$TEST_DIR/www-$1/index.html"
    nsenter -t "$1" -n busybox httpd -f -p 80 -h "$TEST_DIR/www-$1" </dev/null >/dev/null 2>&1 3>&- &
    track_pid $!
    echo $! >>"$TEST_DIR/servers"
}

@test "$N containers on one network: names resolve everywhere, ports answer; one leaves and the rest are untouched" {
    require_cmd getent
    run_tool "${H[@]}" netbridge create nb0 --subnet 10.88.0.0/22
    declare -a pid ip
    for i in $(seq 1 "$N"); do
        pid[i]=$(new_ctr)
        "${H[@]}" netbridge attach "${pid[i]}" --bridge nb0 --name "c$i" --etc "$TEST_DIR/etc/c$i" \
            --publish "$((20000 + i)):80" >"$TEST_DIR/ip" ||
            { echo "attach $i failed" >&2; return 1; }
        ip[i]=$(cat "$TEST_DIR/ip")
    done

    # one hosts file for the network: every container's DIR/hosts is that one inode
    assert_eq "$(stat -L -c %i "$TEST_DIR"/etc/c*/hosts | sort -u | wc -l)" 1 "distinct hosts files"
    assert_eq "$(grep -c $'\tc[0-9]*$' "$TEST_DIR/etc/c1/hosts")" "$N" "entries in the hosts file"
    for i in $(seq 1 "$N"); do
        grep -qxF "$(printf '%s\tc%s' "${ip[i]}" "$i")" "$TEST_DIR/etc/c$i/hosts" ||
            { echo "c$i: no line for itself" >&2; return 1; }
    done
    # sampled containers resolve themselves and others, the first and the last alike
    for i in 1 77 "$N"; do
        for j in 1 100 "$i" "$N"; do
            assert_eq "$(resolve "$TEST_DIR/etc/c$i/hosts" "c$j")" "${ip[j]}" "c$i resolving c$j"
        done
    done
    # and reach one another by name through it (the kernel's answer, not the file's)
    run_tool nsenter -t "${pid[1]}" -n unshare -m sh -c \
        "mount --bind '$TEST_DIR/etc/c1/hosts' /etc/hosts && busybox ping -c1 -W2 c$N"
    assert_contains "$output" "(${ip[N]})"

    # every port published, each once; sampled ones answer from their container
    published_handles >"$TEST_DIR/rules.before"
    assert_eq "$(wc -l <"$TEST_DIR/rules.before")" "$N" "rules in chain published"
    for k in 1 100 199 "$N"; do serve "${pid[k]}" "c$k"; done
    sleep 0.3
    for k in 1 100 199 "$N"; do
        fetch $((20000 + k))
        assert_eq "$output" "c$k"
    done

    # c100 leaves
    run_tool "${H[@]}" netbridge detach "${pid[100]}" --bridge nb0
    # its name is gone from every container's hosts file, the others' are all there
    run_tool --rc 1 grep -w c100 "$TEST_DIR/etc/c1/hosts"
    assert_eq "$(grep -c $'\tc[0-9]*$' "$TEST_DIR/etc/c1/hosts")" $((N - 1))
    assert_eq "$(resolve "$TEST_DIR/etc/c$N/hosts" c100)" ""
    for i in 1 "$N"; do
        assert_eq "$(resolve "$TEST_DIR/etc/c199/hosts" "c$i")" "${ip[i]}" "c199 resolving c$i"
    done
    # exactly its rule went: every other rule keeps its handle (nothing was rebuilt)
    published_handles >"$TEST_DIR/rules.after"
    assert_eq "$(grep -vc ' nb[0-9a-f]*: 20100:80/tcp$' "$TEST_DIR/rules.before")" "$((N - 1))"
    assert_eq "$(grep -v ' nb[0-9a-f]*: 20100:80/tcp$' "$TEST_DIR/rules.before")" \
        "$(cat "$TEST_DIR/rules.after")" "the other rules and their handles"
    fetch --rc any 20100
    [ "$status" -ne 0 ] || { echo "c100's port still answers: $output" >&2; return 1; }
    for k in 1 199 "$N"; do
        fetch $((20000 + k))
        assert_eq "$output" "c$k"
    done
    # a newcomer takes c100's place: one line appended, one rule added, no other changed
    c=$(new_ctr)
    run_tool "${H[@]}" netbridge attach "$c" --bridge nb0 --name newcomer --etc "$TEST_DIR/etc/new" \
        --publish 20100:80
    newip=$output
    assert_eq "$(resolve "$TEST_DIR/etc/c1/hosts" newcomer)" "$newip"
    assert_eq "$(published_handles | head -n $((N - 1)))" "$(cat "$TEST_DIR/rules.after")"

    # teardown: every attachment detached, the network removed: nothing is left
    # shellcheck disable=SC2046 # (pids)
    kill -KILL "${pid[@]}" "$c" $(cat "$TEST_DIR/servers")
    # (gc again until the kernel has ended every dead namespace's veth: each goes with its
    # namespace, a little after the last process)
    local tries=0
    until "${H[@]}" netbridge gc >/dev/null && "${H[@]}" netbridge rm nb0 2>"$TEST_DIR/rm.err"; do
        tries=$((tries + 1))
        [ $tries -lt 100 ] || { cat "$TEST_DIR/rm.err" >&2; return 1; }
        sleep 0.1
    done
    local i=0
    until [ "$("${H[@]}" ip -o link show type veth | wc -l)" = 0 ] || [ $i -ge 300 ]; do
        sleep 0.05; i=$((i + 1))
    done
    run_tool --rc any "${H[@]}" nft list table ip ctrkit
    [ "$status" -ne 0 ] || { echo "table left: $output" >&2; return 1; }
    assert_eq "$("${H[@]}" ip -o link show type veth | wc -l)" 0 "veths left"
    assert_eq "$(ls "$CTRKIT_ROOT/netbridge/hosts")" "" "hosts files left"
    assert_eq "$(cat "$TEST_DIR/etc/c1/hosts" 2>&1)" \
        "cat: $TEST_DIR/etc/c1/hosts: No such file or directory" "the hosts file went with the network"
}

# store_bytes TRACE : the bytes read and written through files under the store's networks/
# and ports/ folders in an `strace -y` log
store_bytes() {
    grep -E '^([0-9]+ +)?(read|write|pread64|pwrite64)\([0-9]+<[^>]*/netbridge/(networks|ports)/' "$1" |
        sed -nE 's/.* = ([0-9]+)$/\1/p' | awk '{ s += $1 } END { print s + 0 }'
}

# probe TAG : attach one more container (--name, --etc, --publish) and detach it by name,
# each under strace; prints the store bytes each moved ("ATTACH DETACH")
probe() {
    local c
    c=$(new_ctr)
    "${H[@]}" strace -f -y -qq -e trace=read,write,pread64,pwrite64 -o "$TEST_DIR/trace.$1.a" \
        netbridge attach "$c" --bridge nb0 --name probe --etc "$TEST_DIR/etc/probe" \
        --publish 30001:80 >/dev/null || return 1
    "${H[@]}" strace -f -y -qq -e trace=read,write,pread64,pwrite64 -o "$TEST_DIR/trace.$1.d" \
        netbridge detach --name probe --bridge nb0 || return 1
    kill -KILL "$c"
    echo "$(store_bytes "$TEST_DIR/trace.$1.a") $(store_bytes "$TEST_DIR/trace.$1.d")"
}

@test "attach and detach read and write only their own lease: the store bytes they move do not grow with the containers attached" {
    require_cmd strace
    run_tool "${H[@]}" netbridge create nb0 --subnet 10.88.0.0/22
    local i few many
    for i in $(seq 1 4); do
        "${H[@]}" netbridge attach "$(new_ctr)" --bridge nb0 --name "c$i" --etc "$TEST_DIR/etc/c$i" \
            --publish "$((21000 + i)):80" >/dev/null
    done
    few=$(probe few)
    for i in $(seq 5 60); do
        "${H[@]}" netbridge attach "$(new_ctr)" --bridge nb0 --name "c$i" --etc "$TEST_DIR/etc/c$i" \
            --publish "$((21000 + i)):80" >/dev/null
    done
    many=$(probe many)
    echo "store bytes (attach detach): at 5 $few, at 61 $many" >&3
    # (each of them is a lease's worth or so, read or written, whatever the number of others:
    # a record of all leases would move ~500 bytes more per container attached)
    local a d
    for a in 1 2; do
        d=$(($(echo "$many" | cut -d' ' -f$a) - $(echo "$few" | cut -d' ' -f$a)))
        [ "${d#-}" -lt 200 ] || { echo "grew by $d bytes: $few -> $many" >&2; return 1; }
        [ "$(echo "$few" | cut -d' ' -f$a)" -gt 0 ] || { echo "nothing traced: $few" >&2; return 1; }
    done
    # the probe was really attached and detached: its name came and went in the hosts file
    run_tool --rc 1 grep -w probe "$TEST_DIR/etc/c1/hosts"
    grep -q "$(printf '\tc60$')" "$TEST_DIR/etc/c1/hosts"
}

@test "a store written by the version that kept every lease in the network's record keeps working" {
    run_tool "${H[@]}" netbridge create nb0 --subnet 10.88.0.0/24
    local a b c d=$CTRKIT_ROOT/netbridge
    a=$(new_ctr)
    b=$(new_ctr)
    c=$(new_ctr)
    run_tool "${H[@]}" netbridge attach "$a" --bridge nb0 --name a --etc "$TEST_DIR/etc/a" --publish 8080:80
    run_tool "${H[@]}" netbridge attach "$b" --bridge nb0 --name b --ip 10.88.0.20 --etc "$TEST_DIR/etc/b"
    run_tool "${H[@]}" netbridge inspect nb0 --json
    local before=$output
    # back to the old layout: the settings and every lease, in attach order, in one record
    jq -s '.[0] + {leases: (.[1:] | sort_by(.seq) | map(del(.seq)))} | del(.lease_files, .next_seq)' \
        "$d/networks/nb0.json" "$d"/networks/nb0.d/lease/* >"$TEST_DIR/old.json"
    assert_eq "$(jq -r '[.leases[].name] | join(" ")' "$TEST_DIR/old.json")" "a b" "old record's leases"
    rm -r "$d/networks/nb0.d" "$d/ports" "$d/format"
    mv "$TEST_DIR/old.json" "$d/networks/nb0.json"

    run_tool "${H[@]}" netbridge inspect nb0 --json
    assert_eq "$output" "$before" "inspect of the old record"
    # its leases hold their address, port and namespace
    nb_fails 1 "address 10.88.0.20 is already leased in network 'nb0' (to container 'b')" \
        attach "$c" --bridge nb0 --ip 10.88.0.20
    nb_fails 1 "host port 8080/tcp is already published (by container 'a' on 'nb0')" \
        attach "$c" --bridge nb0 --publish 8080:81
    nb_fails 1 "already attached to 'nb0'" attach "$a" --bridge nb0
    # a newcomer gets the address after the last one handed out and joins the hosts file
    run_tool "${H[@]}" netbridge attach "$c" --bridge nb0 --name c --etc "$TEST_DIR/etc/c"
    assert_eq "$output" 10.88.0.21
    assert_eq "$(grep -E $'\t[abc]$' "$TEST_DIR/etc/a/hosts" | cut -f2 | tr '\n' ' ')" "a b c " "hosts"
    # an old lease detaches by name: its veth, rule and line go
    run_tool "${H[@]}" netbridge detach --name a --bridge nb0
    assert_eq "$(grep -E $'\t[abc]$' "$TEST_DIR/etc/b/hosts" | cut -f2 | tr '\n' ' ')" "b c " "hosts"
    run_tool "${H[@]}" netbridge inspect nb0 --json
    assert_eq "$(echo "$output" | jq -r '[.leases[].name] | join(" ")')" "b c"
    run_tool --rc any "${H[@]}" nft list chain ip ctrkit published
    run_tool --rc 1 grep -q 8080 <<<"$output"
    # the record was split into a file per lease
    assert_eq "$(jq '.leases // [] | length' "$d/networks/nb0.json")" 0 "leases left in the record"
    assert_eq "$(ls "$d/networks/nb0.d/lease" | tr '\n' ' ')" "10.88.0.20 10.88.0.21 " "lease files"
}
