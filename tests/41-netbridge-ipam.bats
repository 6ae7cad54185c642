#!/usr/bin/env bats
# netbridge IPAM: concurrent attaches, dead leases released by gc and reclaimed by attach,
# a full subnet, the --etc files and name resolution through them. All inside a test host.

load helpers
load 40-netbridge-lib

setup() {
    netbridge_setup
}

# veths_on BRIDGE : how many links are enslaved to the bridge in the test host
veths_on() {
    "${H[@]}" ip -j link show master "$1" | jq length
}

# wait_veths BRIDGE N : until the kernel has finished tearing down dead namespaces
wait_veths() {
    local i=0
    until [ "$(veths_on "$1")" = "$2" ]; do
        i=$((i + 1))
        [ $i -lt 300 ] || { echo "bridge $1 still has $(veths_on "$1") links, want $2" >&2; return 1; }
        sleep 0.02
    done
}

@test "50 attaches started at once get 50 distinct addresses; gc returns the addresses of killed holders" {
    run_tool "${H[@]}" netbridge create nb0 --subnet 10.88.0.0/24
    pids=()
    for i in $(seq 50); do pids+=("$(new_ctr)"); done
    jobs=()
    for i in $(seq 0 49); do
        "${H[@]}" netbridge attach "${pids[$i]}" --bridge nb0 >"$TEST_DIR/ip.$i" 2>"$TEST_DIR/err.$i" &
        jobs+=($!)
    done
    fails=0
    for j in "${jobs[@]}"; do wait "$j" || fails=$((fails + 1)); done
    assert_eq "$fails" 0 "attaches that failed: $(cat "$TEST_DIR"/err.* | sort -u)"
    assert_eq "$(cat "$TEST_DIR"/ip.* | sort -u | wc -l)" 50
    # and each namespace really has the address it was told
    for i in 0 17 49; do
        got=$(nsenter -t "${pids[$i]}" -n ip -j addr show dev eth0 | jq -r '.[0].addr_info[] | select(.family=="inet") | .local')
        assert_eq "$got" "$(cat "$TEST_DIR/ip.$i")"
    done
    # never the network, gateway or broadcast address
    ! grep -qxE '10\.88\.0\.(0|1|255)' "$TEST_DIR"/ip.*
    run_tool "${H[@]}" netbridge leases nb0 --json
    assert_json 'length' 50
    assert_json '[.[].ip] | unique | length' 50

    # kill -9 ten holders: their namespaces die, the kernel deletes their veths
    killed=()
    for i in $(seq 0 9); do
        kill -KILL "${pids[$i]}"
        killed+=("$(cat "$TEST_DIR/ip.$i")")
    done
    wait_veths nb0 40
    run_tool "${H[@]}" netbridge leases nb0 --json
    assert_json '[.[] | select(.alive == false)] | length' 10
    run_tool "${H[@]}" netbridge gc
    assert_eq "$(printf '%s\n' "$output" | awk '{print $2}' | sort)" "$(printf '%s\n' "${killed[@]}" | sort)"
    run_tool "${H[@]}" netbridge leases nb0 --json
    assert_json 'length' 40
    assert_json '[.[] | select(.alive == false)] | length' 0
    # gc again: nothing more
    run_tool "${H[@]}" netbridge gc
    assert_eq "$output" ""
}

@test "a full subnet is one clear error with nothing made; a dead lease is reclaimed by the next attach" {
    run_tool "${H[@]}" netbridge create nb0 --subnet 10.77.0.0/29
    pids=()
    for i in $(seq 5); do
        p=$(new_ctr)
        pids+=("$p")
        run_tool "${H[@]}" netbridge attach "$p" --bridge nb0 --publish "$((9000 + i)):80"
    done
    links=$("${H[@]}" ip -o link show | wc -l)
    extra=$(new_ctr)
    run_tool --rc 1 "${H[@]}" netbridge attach "$extra" --bridge nb0
    assert_error netbridge "no free address left in subnet 10.77.0.0/29"
    assert_eq "$("${H[@]}" ip -o link show | wc -l)" "$links"
    assert_eq "$(nsenter -t "$extra" -n ip -o link show | wc -l)" 1
    # one holder dies (no gc run): the next attach takes its address and its port
    dead_ip=$("${H[@]}" netbridge leases nb0 --json | jq -r --arg p "/proc/${pids[2]}/ns/net" '.[] | select(.netns==$p) | .ip')
    kill -KILL "${pids[2]}"
    wait_veths nb0 4
    run_tool "${H[@]}" netbridge attach "$extra" --bridge nb0 --publish 9003:80
    assert_eq "$output" "$dead_ip"
    run_tool "${H[@]}" nft -j list chain ip ctrkit published
    assert_json '[.nftables[] | select(.rule) | .rule.expr[1].dnat.addr] | map(select(. == "'"$dead_ip"'")) | length' 1
    assert_json '[.nftables[] | select(.rule)] | length' 5
}

@test "--etc writes resolv.conf, hosts, hostname; a container resolves another's name through them" {
    # the test host's own resolv.conf (its private mount namespace): one loopback resolver
    printf 'nameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch example.test\noptions ndots:1\n' >"$TEST_DIR/resolv.host"
    "${H[@]}" mount --bind "$TEST_DIR/resolv.host" /etc/resolv.conf
    run_tool "${H[@]}" netbridge create nb0 --subnet 10.88.0.0/24
    web=$(new_ctr)
    db=$(new_ctr)
    mkdir -p "$TEST_DIR/web" "$TEST_DIR/db"
    run_tool "${H[@]}" netbridge attach "$web" --bridge nb0 --name web --etc "$TEST_DIR/web"
    web_ip=$output
    run_tool "${H[@]}" netbridge attach "$db" --bridge nb0 --name db --etc "$TEST_DIR/db"
    db_ip=$output
    assert_eq "$(cat "$TEST_DIR/db/resolv.conf")" "$(printf 'nameserver 192.0.2.53\nsearch example.test\noptions ndots:1')"
    assert_eq "$(cat "$TEST_DIR/db/hostname")" db
    grep -qxF "$(printf '%s\tdb' "$db_ip")" "$TEST_DIR/db/hosts"
    grep -qxF "$(printf '%s\tweb' "$web_ip")" "$TEST_DIR/db/hosts"
    grep -qxF "$(printf '127.0.0.1\tlocalhost')" "$TEST_DIR/db/hosts"
    # web's hosts file learned about db when db joined
    grep -qxF "$(printf '%s\tdb' "$db_ip")" "$TEST_DIR/web/hosts"
    # resolve by name with the file bind-mounted as /etc/hosts, as a launcher would
    run_tool nsenter -t "$web" -n unshare -m sh -c \
        "mount --bind '$TEST_DIR/web/hosts' /etc/hosts && busybox ping -c1 -W2 db"
    assert_contains "$output" "($db_ip)"
    # db leaves: web's hosts file forgets it
    run_tool "${H[@]}" netbridge detach "$db" --bridge nb0
    ! grep -q "db$" "$TEST_DIR/web/hosts"
}

@test "a hosts file of a container's own (--add-host) learns of later containers and forgets those that leave" {
    run_tool "${H[@]}" netbridge create nb0 --subnet 10.88.0.0/24
    own=$(new_ctr)
    mkdir -p "$TEST_DIR/own" "$TEST_DIR/late" "$TEST_DIR/later"
    run_tool "${H[@]}" netbridge attach "$own" --bridge nb0 --name own --etc "$TEST_DIR/own" \
        --add-host db.example:10.1.2.3
    [ -f "$TEST_DIR/own/hosts" ] && [ ! -L "$TEST_DIR/own/hosts" ]
    grep -qxF "$(printf '10.1.2.3\tdb.example')" "$TEST_DIR/own/hosts"
    late=$(new_ctr)
    run_tool "${H[@]}" netbridge attach "$late" --bridge nb0 --name late --etc "$TEST_DIR/late"
    late_ip=$output
    grep -qxF "$(printf '%s\tlate' "$late_ip")" "$TEST_DIR/own/hosts"
    run_tool "${H[@]}" netbridge detach "$late" --bridge nb0
    run_tool --rc 1 grep -w late "$TEST_DIR/own/hosts"
    # a record from before netbridge kept its index of such files: still found (and indexed)
    rm "$CTRKIT_ROOT/netbridge/networks/nb0.private-hosts"
    later=$(new_ctr)
    run_tool "${H[@]}" netbridge attach "$later" --bridge nb0 --name later --etc "$TEST_DIR/later"
    later_ip=$output
    grep -qxF "$(printf '%s\tlater' "$later_ip")" "$TEST_DIR/own/hosts"
    run_tool "${H[@]}" netbridge detach --name later --bridge nb0
    run_tool --rc 1 grep -w later "$TEST_DIR/own/hosts"
    grep -qxF "$(printf '10.1.2.3\tdb.example')" "$TEST_DIR/own/hosts"
}

@test "gc deletes veths of its root on the bridge that no lease names, and only those" {
    run_tool "${H[@]}" netbridge create nb0 --subnet 10.88.0.0/24
    c1=$(new_ctr)
    c2=$(new_ctr)
    run_tool "${H[@]}" netbridge attach "$c1" --bridge nb0
    veth=$("${H[@]}" netbridge leases nb0 --json | jq -r '.[0].veth')
    # as if an attach had been killed after creating its pair: a stray veth named with
    # this root's prefix (nb and 4 hex digits of the root's id)
    "${H[@]}" ip link add "${veth:0:6}deadbeef" master nb0 type veth peer name eth0 netns "$c2"
    # and links someone else put on the bridge (one named like another root's veth)
    "${H[@]}" ip link add other0 master nb0 type veth peer name other1
    other=nb0000deadbeef
    [ "${veth:0:6}" != nb0000 ] || other=nb0001deadbeef
    "${H[@]}" ip link add "$other" master nb0 type veth peer name other2
    wait_veths nb0 4
    run_tool "${H[@]}" netbridge gc
    assert_eq "$output" ""
    run_tool "${H[@]}" ip -j link show master nb0
    assert_json '[.[].ifname] | sort | join(",")' "$(printf '%s\n' "$veth" "$other" other0 | sort | paste -sd,)"
    run_tool nsenter -t "$c2" -n ip -j link show
    assert_json 'length' 1
}
