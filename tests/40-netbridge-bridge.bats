#!/usr/bin/env bats
# netbridge bridge mode: containers on a bridge, masquerade to an "outside world",
# published ports, none mode, detach leaving nothing behind. Everything happens inside a
# test host network namespace; the real host's network is never touched.

load helpers
load 40-netbridge-lib

setup() {
    netbridge_setup
}

# The outside world: a namespace wired to the test host by its own veth, 192.0.2.0/24,
# with no route back to any container subnet (so only masquerade makes replies arrive).
make_outside() {
    OUT=$(new_ctr)
    in_host ip link add nbout type veth peer name eth0 netns "$OUT"
    in_host ip addr add 192.0.2.1/24 dev nbout
    in_host ip link set nbout up
    in_ctr "$OUT" ip addr add 192.0.2.2/24 dev eth0
    in_ctr "$OUT" ip link set eth0 up
    in_ctr "$OUT" ip link set lo up
}

@test "two containers on one bridge ping each other and the gateway" {
    run_tool "${H[@]}" netbridge create nb0 --subnet 10.88.0.0/24
    assert_eq "$output" "10.88.0.0/24"
    # the bridge really is there, up, with the gateway address
    assert_json '.[0].addr_info[] | select(.family=="inet") | .local' 10.88.0.1 "$(in_host ip -j addr show dev nb0)"
    assert_eq "$(in_host cat /proc/sys/net/ipv4/ip_forward)" 1
    c1=$(new_ctr)
    c2=$(new_ctr)
    run_tool "${H[@]}" netbridge attach "$c1" --bridge nb0
    ip1=$output
    run_tool "${H[@]}" netbridge attach "$c2" --bridge nb0
    ip2=$output
    assert_match "$ip1" '^10\.88\.0\.[0-9]+$'
    assert_match "$ip2" '^10\.88\.0\.[0-9]+$'
    [ "$ip1" != "$ip2" ]
    # the interface inside really has the address, and lo is up
    assert_json '.[0].addr_info[] | select(.family=="inet") | .local' "$ip1" "$(in_ctr "$c1" ip -j addr show dev eth0)"
    assert_json '.[0].flags | index("UP") != null' true "$(in_ctr "$c1" ip -j link show dev lo)"
    assert_json '.[0].gateway' 10.88.0.1 "$(in_ctr "$c1" ip -j route show default)"
    run_tool nsenter -t "$c1" -n busybox ping -c1 -W2 "$ip2"
    run_tool nsenter -t "$c2" -n busybox ping -c1 -W2 "$ip1"
    run_tool nsenter -t "$c1" -n busybox ping -c1 -W2 10.88.0.1
    # the host ends are on the bridge, up, with no IPv6 of their own (no link-local
    # address or route per container in the host's tables)
    run_tool "${H[@]}" ip -j link show master nb0
    assert_json 'length' 2
    assert_json 'map(select(.operstate == "UP")) | length' 2
    for v in $(jq -r '.[].ifname' <<<"$output"); do
        assert_eq "$(in_host ip -6 -o addr show dev "$v")" "" "IPv6 addresses on port $v"
    done
    # --json: a CNI-shaped result describing what is really there
    c3=$(new_ctr)
    run_tool "${H[@]}" netbridge attach "$c3" --bridge nb0 --json
    assert_json '[.interfaces[].name] | .[0]' nb0
    assert_json '.interfaces[2].sandbox' "/proc/$c3/ns/net"
    assert_json '.ips[0].gateway' 10.88.0.1
    assert_json '.routes[0].dst' 0.0.0.0/0
    addr=$(jq -r '.ips[0].address' <<<"$output")
    assert_eq "$addr" "$(nsenter -t "$c3" -n ip -j addr show dev eth0 | jq -r '.[0].addr_info[] | select(.family=="inet") | "\(.local)/\(.prefixlen)"')"
    assert_eq "$(jq -r '.interfaces[2].mac' <<<"$output")" "$(nsenter -t "$c3" -n ip -j link show dev eth0 | jq -r '.[0].address')"
    assert_eq "$(jq -r '.interfaces[1].name' <<<"$output")" "$("${H[@]}" ip -j link show master nb0 | jq -r --arg m "$(jq -r '.interfaces[1].mac' <<<"$output")" '.[] | select(.address==$m) | .ifname')"
}

@test "masquerade reaches the outside world; a published port is reached from outside and from the host" {
    make_outside
    run_tool "${H[@]}" netbridge create nb0 --subnet 10.88.0.0/24
    c1=$(new_ctr)
    run_tool "${H[@]}" netbridge attach "$c1" --bridge nb0 --publish 8080:80 --publish 5353:53/udp
    ip1=$output
    # container -> outside: the outside has no route to 10.88.0.0/24, so the reply only
    # comes back because the source was masqueraded to the test host's 192.0.2.1
    run_tool nsenter -t "$c1" -n busybox ping -c1 -W2 192.0.2.2
    # and without NAT it fails: prove the check can fail
    run_tool "${H[@]}" netbridge create nb1 --subnet 10.89.0.0/24 --no-nat
    c2=$(new_ctr)
    run_tool "${H[@]}" netbridge attach "$c2" --bridge nb1
    run_tool --rc 1 nsenter -t "$c2" -n busybox ping -c1 -W1 192.0.2.2

    # a web server in the container, reached through the test host's address from outside
    mkdir -p "$TEST_DIR/www"
    echo "hello from $ip1" >"$TEST_DIR/www/index.html"
    nsenter -t "$c1" -n busybox httpd -f -p 80 -h "$TEST_DIR/www" </dev/null >/dev/null 2>&1 3>&- &
    track_pid $!
    local i=0
    until in_ctr "$c1" busybox wget -qO- http://127.0.0.1:80/ >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.05
    done
    run_tool nsenter -t "$OUT" -n timeout 5 busybox wget -qO- http://192.0.2.1:8080/
    assert_eq "$output" "hello from $ip1"
    # from the test host itself: its own address and loopback (hairpin)
    run_tool "${H[@]}" timeout 5 busybox wget -qO- http://192.0.2.1:8080/
    assert_eq "$output" "hello from $ip1"
    run_tool "${H[@]}" timeout 5 busybox wget -qO- http://127.0.0.1:8080/
    assert_eq "$output" "hello from $ip1"
    # from another container, through the gateway
    c3=$(new_ctr)
    run_tool "${H[@]}" netbridge attach "$c3" --bridge nb0 --name other
    run_tool "${H[@]}" netbridge leases nb0 --json
    assert_json 'length' 2
    assert_json '[.[] | select(.ports == ["8080:80/tcp","5353:53/udp"])] | length' 1
    # the rules live in table ip ctrkit only
    run_tool "${H[@]}" nft -j list tables
    assert_json '[.nftables[] | select(.table) | .table.name] | join(",")' ctrkit
}

@test "detach after the namespace is gone: lease released at once, the kernel takes the veth" {
    run_tool "${H[@]}" netbridge create nb0 --subnet 10.88.0.0/24
    c=$(new_ctr)
    run_tool "${H[@]}" netbridge attach "$c" --bridge nb0 --name gone
    run_tool "${H[@]}" netbridge leases nb0 --json
    veth=$(jq -r '.[0].veth' <<<"$output")
    in_host ip link show "$veth" >/dev/null
    kill -KILL "$c"
    # (a zombie has no namespaces left; it is reaped by the run's subreaper)
    while readlink "/proc/$c/ns/net" >/dev/null 2>&1; do sleep 0.01; done
    run_tool "${H[@]}" netbridge detach --name gone --bridge nb0
    run_tool "${H[@]}" netbridge leases nb0 --json
    assert_json 'length' 0
    # the veth pair goes with the namespace, removed by the kernel in the background
    i=0
    while in_host ip link show "$veth" >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 500 ] || { echo "veth $veth still there 5 s after its namespace ended" >&2; return 1; }
        sleep 0.01
    done
    run_tool "${H[@]}" netbridge rm nb0
}

@test "a network without IPv6 gives the container's end no IPv6 address: a start sends the others no multicast" {
    run_tool "${H[@]}" netbridge create nb0 --subnet 10.88.0.0/24
    c1=$(new_ctr)
    c2=$(new_ctr)
    run_tool "${H[@]}" netbridge attach "$c1" --bridge nb0
    ip1=$output
    # c1 counts what reaches it from c2's interface (made next, with its MAC fixed here)
    mac2=02:42:0a:58:00:63
    in_ctr "$c1" nft -f - <<EOF
table netdev seen {
    chain in { type filter hook ingress device eth0 priority 0; ether saddr $mac2 counter; }
}
EOF
    run_tool "${H[@]}" netbridge attach "$c2" --bridge nb0 --mac "$mac2"
    assert_json '.[0].inet6_addr_gen_mode' none "$(in_ctr "$c2" ip -d -j link show dev eth0)"
    assert_eq "$(in_ctr "$c2" ip -6 -o addr show dev eth0)" ""
    # (lo keeps ::1, as in Docker)
    assert_match "$(in_ctr "$c2" ip -6 -o addr show dev lo)" '::1/128'
    # an IPv6 interface would have sent DAD probes and MLD reports within a second or two,
    # flooded to every port of a bridge with no querier
    sleep 2
    count() { in_ctr "$c1" nft -j list table netdev seen | jq '[.nftables[].rule.expr[]?.counter.packets | numbers] | add'; }
    assert_eq "$(count)" 0 "packets from the new container's interface before it spoke"
    # (the counter does count: c2 speaks)
    run_tool nsenter -t "$c2" -n busybox ping -c1 -W2 "$ip1"
    [ "$(count)" -gt 0 ]
}

@test "attach --new-pin makes and pins the namespace; an existing pin is refused and kept; a failed attach leaves no pin" {
    run_tool "${H[@]}" netbridge create nb0 --subnet 10.88.0.0/24
    d=$TEST_DIR/pins
    mkdir -p "$d/c1" "$d/c2"
    run_tool "${H[@]}" netbridge attach --new-pin "$d/c1/ns" --bridge nb0 --name c1
    ip1=$output
    # a network namespace of its own, pinned (a mount in the test host's mount namespace),
    # with the interface inside it
    in_host grep -q " $d/c1/ns/net " /proc/self/mountinfo
    [ "$(in_host stat -L -c %i "$d/c1/ns/net")" != "$(readlink "/proc/$TEST_HOST_PID/ns/net" | tr -dc 0-9)" ]
    assert_json '.[0].addr_info[] | select(.family=="inet") | .local' "$ip1" "$(in_host nsenter --net="$d/c1/ns/net" ip -j addr show dev eth0)"
    # an existing pin: refused, left as it was
    nb_fails 1 "$d/c1/ns/net" attach --new-pin "$d/c1/ns" --bridge nb0 --name again
    in_host grep -q " $d/c1/ns/net " /proc/self/mountinfo
    # the attach fails after the pin was made: no pin, no folder, no mount left
    nb_fails 1 "no network named 'nosuch'" attach --new-pin "$d/c2/ns" --bridge nosuch
    [ ! -e "$d/c2/ns" ]
    ! in_host grep -q " $d/c2/" /proc/self/mountinfo
    # a folder that cannot be made
    nb_fails 1 "$d/none/ns" attach --new-pin "$d/none/ns" --bridge nb0
    [ ! -e "$d/none" ]
    # NETNS and --new-pin: one or the other
    nb_fails 2 "--new-pin" attach 1 --new-pin "$d/c2/ns" --bridge nb0
    run_tool "${H[@]}" netbridge detach --name c1 --bridge nb0
    in_host nsenter-rs --unpin "$d/c1/ns"
    run_tool "${H[@]}" netbridge rm nb0
}

@test "none mode: only lo, up" {
    c=$(new_ctr)
    run_tool "${H[@]}" netbridge attach --none "$c"
    assert_eq "$output" ""
    run_tool nsenter -t "$c" -n ip -j link show
    assert_json 'length' 1
    assert_json '.[0].ifname' lo
    assert_json '.[0].flags | index("UP") != null' true
    run_tool nsenter -t "$c" -n busybox ping -c1 -W1 127.0.0.1
}

@test "detach removes veth, rules and lease: ruleset and links are back to before; twice is fine" {
    links() { in_host ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort; }
    links0=$(links)
    rules0=$(in_host nft list ruleset)
    run_tool "${H[@]}" netbridge create nb0 --subnet 10.88.0.0/24
    links1=$(links)
    rules1=$(in_host nft list ruleset)
    c=$(new_ctr)
    run_tool "${H[@]}" netbridge attach "$c" --bridge nb0 --publish 8081:80 --name web
    [ "$(links)" != "$links1" ]
    [ "$(in_host nft list ruleset)" != "$rules1" ]
    run_tool "${H[@]}" netbridge detach "$c" --bridge nb0
    assert_eq "$(links)" "$links1"
    assert_eq "$(in_host nft list ruleset)" "$rules1"
    run_tool "${H[@]}" netbridge leases nb0 --json
    assert_json 'length' 0
    run_tool nsenter -t "$c" -n ip -j link show
    assert_json 'length' 1
    # again: not an error
    run_tool "${H[@]}" netbridge detach "$c" --bridge nb0
    # by name
    run_tool "${H[@]}" netbridge attach "$c" --bridge nb0 --name web
    run_tool "${H[@]}" netbridge detach --name web --bridge nb0
    assert_eq "$(links)" "$links1"
    # rm: the bridge and the table go too
    run_tool "${H[@]}" netbridge rm nb0
    assert_eq "$(links)" "$links0"
    assert_eq "$(in_host nft list ruleset)" "$rules0"
    run_tool "${H[@]}" netbridge ls --json
    assert_json 'length' 0
}

@test "rm refuses a network in use unless --force; ls and inspect show it" {
    run_tool "${H[@]}" netbridge create nb0 --subnet 10.88.0.0/24 --mtu 1400
    c=$(new_ctr)
    run_tool "${H[@]}" netbridge attach "$c" --bridge nb0 --ip 10.88.0.50 --mac 02:42:0a:58:00:32 --ifname net0
    assert_eq "$output" 10.88.0.50
    assert_json '.[0].address' 02:42:0a:58:00:32 "$(in_ctr "$c" ip -j link show dev net0)"
    assert_json '.[0].mtu' 1400 "$(in_ctr "$c" ip -j link show dev net0)"
    run_tool "${H[@]}" netbridge ls
    assert_match "$(echo "$output" | tail -1)" '^nb0 +10\.88\.0\.0/24 +10\.88\.0\.1 +yes +no +1$'
    run_tool "${H[@]}" netbridge inspect nb0 --json
    assert_json '.subnet' 10.88.0.0/24
    assert_json '.leases[0].ip' 10.88.0.50
    assert_json '.leases[0].alive' true
    run_tool --rc 1 "${H[@]}" netbridge rm nb0
    assert_error netbridge "still has 1 attachment"
    run_tool "${H[@]}" netbridge rm nb0 --force
    run_tool nsenter -t "$c" -n ip -j link show
    assert_json 'length' 1
    run_tool "${H[@]}" ip -j link show
    assert_json '[.[] | select(.ifname=="nb0")] | length' 0
}

@test "--internal: no way out and no default route, but the bridge still works" {
    make_outside
    run_tool "${H[@]}" netbridge create nbi --subnet 10.90.0.0/24 --internal
    c1=$(new_ctr)
    c2=$(new_ctr)
    run_tool "${H[@]}" netbridge attach "$c1" --bridge nbi
    run_tool "${H[@]}" netbridge attach "$c2" --bridge nbi
    ip2=$output
    run_tool nsenter -t "$c1" -n busybox ping -c1 -W2 "$ip2"
    run_tool nsenter -t "$c1" -n ip -j route show default
    assert_json 'length' 0
    # even with routes added by hand both ways, the forward rules drop it
    in_ctr "$c1" ip route add default via 10.90.0.1
    in_ctr "$OUT" ip route add 10.90.0.0/24 via 192.0.2.1
    run_tool --rc 1 nsenter -t "$c1" -n busybox ping -c1 -W1 192.0.2.2
}
