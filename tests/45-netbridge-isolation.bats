#!/usr/bin/env bats
# netbridge host hygiene: containers kept off the host's loopback (CVE-2020-8558), networks
# kept apart and the host no router for them, and each CTRKIT_ROOT (and each network
# namespace) touching only what it made. Everything happens inside test host network
# namespaces; the real host's network is never touched.

load helpers
load 40-netbridge-lib

setup() {
    netbridge_setup
}

# serve_loopback PORT : a web server on the test host's 127.0.0.1 only, answering "secret"
serve_loopback() {
    mkdir -p "$TEST_DIR/lo-www"
    echo secret >"$TEST_DIR/lo-www/index.html"
    "${H[@]}" busybox httpd -f -p "127.0.0.1:$1" -h "$TEST_DIR/lo-www" </dev/null >/dev/null 2>&1 3>&- &
    track_pid $!
    local i=0
    until "${H[@]}" busybox wget -qO- "http://127.0.0.1:$1/" >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -lt 100 ] || { echo "server on 127.0.0.1:$1 did not start" >&2; return 1; }
        sleep 0.05
    done
}

# serve_ctr PID TEXT : a web server on port 80 of a container, answering TEXT
serve_ctr() {
    mkdir -p "$TEST_DIR/www-$1"
    echo "$2" >"$TEST_DIR/www-$1/index.html"
    nsenter -t "$1" -n busybox httpd -f -p 80 -h "$TEST_DIR/www-$1" </dev/null >/dev/null 2>&1 3>&- &
    track_pid $!
    local i=0
    until in_ctr "$1" busybox wget -qO- http://127.0.0.1:80/ >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -lt 100 ] || { echo "server in $1 did not start" >&2; return 1; }
        sleep 0.05
    done
}

# arm_poc PID GATEWAY : the proof of concept of CVE-2020-8558, with every right inside the
# container's network namespace (as a container with NET_ADMIN, or NET_RAW crafting the
# same packets, has): route_localnet on, the container's own loopback addresses out of
# the way, and 127.0.0.0/8 routed to the gateway, so that packets leave eth0 for the
# host with destination 127.0.0.1
arm_poc() {
    in_ctr "$1" sh -c 'echo 1 >/proc/sys/net/ipv4/conf/all/route_localnet && echo 1 >/proc/sys/net/ipv4/conf/eth0/route_localnet'
    in_ctr "$1" ip addr del 127.0.0.1/8 dev lo
    in_ctr "$1" ip route add 127.0.0.0/8 via "$2" dev eth0
}

# poc PID PORT : fetch the host's http://127.0.0.1:PORT/ from the container (3 s at most)
poc() {
    run_tool --rc any nsenter -t "$1" -n timeout 3 busybox wget -qO- "http://127.0.0.1:$2/"
}

localnet() {
    in_host cat "/proc/sys/net/ipv4/conf/$1/route_localnet"
}

@test "a container cannot reach a service on the host's 127.0.0.1; published ports still answer there" {
    # a bridge does not inherit a route_localnet the host's defaults would give it
    in_host sh -c 'echo 1 >/proc/sys/net/ipv4/conf/default/route_localnet'
    run_tool "${H[@]}" netbridge create nb0 --subnet 10.88.0.0/24
    assert_eq "$(localnet nb0)" 0 "route_localnet without published ports"
    serve_loopback 9999
    c1=$(new_ctr)
    run_tool "${H[@]}" netbridge attach "$c1" --bridge nb0
    arm_poc "$c1" 10.88.0.1
    poc "$c1" 9999
    [ "$status" -ne 0 ] || { echo "reached the host's loopback: $output" >&2; return 1; }
    # a host where route_localnet is on for every interface (kube-proxy sets it so):
    # the input rule alone keeps the container out
    in_host sh -c 'echo 1 >/proc/sys/net/ipv4/conf/all/route_localnet'
    poc "$c1" 9999
    [ "$status" -ne 0 ] || { echo "reached the host's loopback (all.route_localnet=1): $output" >&2; return 1; }
    in_host sh -c 'echo 0 >/proc/sys/net/ipv4/conf/all/route_localnet'

    # a published port: route_localnet goes on for the bridge, the host reaches the port
    # on its 127.0.0.1, and the container still does not reach the host's loopback
    c2=$(new_ctr)
    run_tool "${H[@]}" netbridge attach "$c2" --bridge nb0 --publish 8080:80
    serve_ctr "$c2" "published"
    assert_eq "$(localnet nb0)" 1 "route_localnet with a published port"
    run_tool "${H[@]}" timeout 5 busybox wget -qO- http://127.0.0.1:8080/
    assert_eq "$output" published
    poc "$c1" 9999
    [ "$status" -ne 0 ] || { echo "reached the host's loopback (ports published): $output" >&2; return 1; }
    # the last port goes: route_localnet goes off again
    run_tool "${H[@]}" netbridge detach "$c2" --bridge nb0
    assert_eq "$(localnet nb0)" 0 "route_localnet after the last published port"

    # the check can fail: route_localnet on and netbridge's input rules gone, the proof
    # of concept gets through
    in_host sh -c 'echo 1 >/proc/sys/net/ipv4/conf/nb0/route_localnet'
    in_host nft flush chain ip ctrkit input
    # (a few tries: after the attempts the guard blocked, the first connections made
    # without it can take several seconds to be answered -- seen here: up to 3 tries)
    for _ in 1 2 3 4 5; do
        poc "$c1" 9999
        [ "$status" != 0 ] || break
    done
    assert_eq "$status" 0 "the proof of concept without the guard"
    assert_eq "$output" secret
}

# kept_rules : the table's rules but the DNAT ones, with their handles (a rebuild gives
# every rule a new handle)
kept_rules() {
    in_host nft -a list table ip ctrkit | grep 'comment "netbridge' | grep -v 'dnat to'
}

@test "a network's first and last published ports change only their DNAT rules and route_localnet; a table without the network's hairpin is rebuilt" {
    run_tool "${H[@]}" netbridge create nb0 --subnet 10.88.0.0/24
    c1=$(new_ctr)
    run_tool "${H[@]}" netbridge attach "$c1" --bridge nb0
    before=$(kept_rules)
    [ -n "$before" ]
    c2=$(new_ctr)
    run_tool "${H[@]}" netbridge attach "$c2" --bridge nb0 --publish 8082:80
    ip2=$output
    assert_eq "$(kept_rules)" "$before" "the other rules after the first published port"
    assert_match "$(in_host nft list chain ip ctrkit published)" "tcp dport 8082 dnat to $ip2:80"
    assert_eq "$(localnet nb0)" 1
    # the port answers on the host's address, its 127.0.0.1, and to a container of the
    # same bridge through the gateway (hairpin)
    serve_ctr "$c2" "c2"
    run_tool "${H[@]}" timeout 5 busybox wget -qO- http://127.0.0.1:8082/
    assert_eq "$output" c2
    run_tool nsenter -t "$c1" -n timeout 5 busybox wget -qO- http://10.88.0.1:8082/
    assert_eq "$output" c2
    run_tool "${H[@]}" netbridge detach "$c2" --bridge nb0
    assert_eq "$(kept_rules)" "$before" "the other rules after the last published port"
    ! in_host nft list table ip ctrkit | grep -q "dnat to"
    assert_eq "$(localnet nb0)" 0

    # a table without the network's hairpin (an older netbridge's, or edited by hand): the
    # first port rebuilds the root's rules, and the port answers again
    hairpin=$(in_host nft -a list chain ip ctrkit postrouting | sed -n 's/.*nb0: hairpin" # handle //p')
    [ -n "$hairpin" ]
    in_host nft delete rule ip ctrkit postrouting handle "$hairpin"
    run_tool "${H[@]}" netbridge attach "$c2" --bridge nb0 --publish 8082:80
    [ "$(kept_rules)" != "$before" ]
    in_host nft list chain ip ctrkit postrouting | grep -q 'nb0: hairpin"'
    run_tool nsenter -t "$c1" -n timeout 5 busybox wget -qO- http://10.88.0.1:8082/
    assert_eq "$output" c2
    run_tool "${H[@]}" netbridge detach "$c2" --bridge nb0
}

@test "containers of two networks cannot reach each other; each still reaches its gateway and its bridge" {
    run_tool "${H[@]}" netbridge create nba --subnet 10.88.0.0/24
    run_tool "${H[@]}" netbridge create nbb --subnet 10.89.0.0/24
    a1=$(new_ctr)
    a2=$(new_ctr)
    b1=$(new_ctr)
    run_tool "${H[@]}" netbridge attach "$a1" --bridge nba
    ip_a1=$output
    run_tool "${H[@]}" netbridge attach "$a2" --bridge nba
    ip_a2=$output
    run_tool "${H[@]}" netbridge attach "$b1" --bridge nbb
    ip_b1=$output
    run_tool nsenter -t "$a1" -n busybox ping -c1 -W2 "$ip_a2"
    run_tool nsenter -t "$a1" -n busybox ping -c1 -W2 10.88.0.1
    run_tool nsenter -t "$b1" -n busybox ping -c1 -W2 10.89.0.1
    run_tool --rc 1 nsenter -t "$a1" -n busybox ping -c1 -W1 "$ip_b1"
    run_tool --rc 1 nsenter -t "$b1" -n busybox ping -c1 -W1 "$ip_a1"
    # a server in b1 is not reached from a1 either
    serve_ctr "$b1" "b1"
    run_tool --rc any nsenter -t "$a1" -n timeout 3 busybox wget -qO- "http://$ip_b1/"
    [ "$status" -ne 0 ]

    # the host is no router into the networks for its other links: a neighbour that
    # routes 10.88.0.0/24 through the test host does not reach a container
    OUT=$(new_ctr)
    in_host ip link add nbout type veth peer name eth0 netns "$OUT"
    in_host ip addr add 192.0.2.1/24 dev nbout
    in_host ip link set nbout up
    in_ctr "$OUT" ip addr add 192.0.2.2/24 dev eth0
    in_ctr "$OUT" ip link set eth0 up
    in_ctr "$OUT" ip route add 10.88.0.0/24 via 192.0.2.1
    run_tool --rc 1 nsenter -t "$OUT" -n busybox ping -c1 -W1 "$ip_a1"
    # while the container reaches the neighbour (masqueraded) and gets the replies
    run_tool nsenter -t "$a1" -n busybox ping -c1 -W2 192.0.2.2

    # the checks can fail: without netbridge's forward rules the pings get through
    in_host nft flush chain ip ctrkit forward
    run_tool nsenter -t "$a1" -n busybox ping -c1 -W2 "$ip_b1"
    run_tool nsenter -t "$OUT" -n busybox ping -c1 -W2 "$ip_a1"
}

# gc_until_released NETBRIDGE... : run `NETBRIDGE... gc` until it releases something (5 s
# at most); $output is what it printed then
gc_until_released() {
    local i=0
    while :; do
        run_tool "$@" gc
        [ -z "$output" ] || return 0
        i=$((i + 1))
        [ $i -lt 50 ] || { echo "gc released nothing in 5 s" >&2; return 1; }
        sleep 0.1
    done
}

# rules_of TAG : the comments of the rules of table ip ctrkit that start with TAG, sorted
rules_of() {
    in_host nft -j list table ip ctrkit 2>/dev/null |
        jq -r --arg t "$1" '.nftables[] | select(.rule) | .rule.comment | select(startswith($t))' | sort
}

# tag_of NETWORK : the "netbridge[ID]" prefix of the rules of NETWORK
tag_of() {
    in_host nft -j list table ip ctrkit |
        jq -r --arg n " $1: masquerade" '.nftables[] | select(.rule) | .rule.comment | select(endswith($n)) | split(" ")[0]'
}

@test "two roots in one host: gc and rm --force of one leave the other's rules, leases and veths" {
    ROOT_A=$CTRKIT_ROOT
    ROOT_B=$(mktemp -d "$TEST_DIR/rootb.XXXXXX")
    A=(env CTRKIT_ROOT="$ROOT_A" nsenter -t "$TEST_HOST_PID" -n -m netbridge)
    B=(env CTRKIT_ROOT="$ROOT_B" nsenter -t "$TEST_HOST_PID" -n -m netbridge)
    run_tool "${A[@]}" create nba --subnet 10.88.0.0/24
    run_tool "${B[@]}" create nbb --subnet 10.89.0.0/24
    a1=$(new_ctr)
    a2=$(new_ctr)
    b1=$(new_ctr)
    b2=$(new_ctr)
    b3=$(new_ctr)
    run_tool "${A[@]}" attach "$a1" --bridge nba --publish 8080:80
    run_tool "${A[@]}" attach "$a2" --bridge nba --publish 8082:80
    ip_a2=$output
    run_tool "${B[@]}" attach "$b1" --bridge nbb --publish 8081:80
    run_tool "${B[@]}" attach "$b2" --bridge nbb
    run_tool "${B[@]}" attach "$b3" --bridge nbb --publish 8083:80
    tag_a=$(tag_of nba)
    tag_b=$(tag_of nbb)
    assert_match "$tag_a" '^netbridge\[[0-9a-f]{8}\]$'
    assert_match "$tag_b" '^netbridge\[[0-9a-f]{8}\]$'
    [ "$tag_a" != "$tag_b" ]
    # each root's veths carry its prefix
    va=$("${A[@]}" leases nba --json | jq -r '.[0].veth')
    vb=$("${B[@]}" leases nbb --json | jq -r '.[0].veth')
    [ "${va:0:6}" != "${vb:0:6}" ]
    # one dead attachment in each root (the kernel takes the veths with the namespaces; a
    # veth leaves its bridge before it is gone, so count each root's veths by name, which
    # is what gc looks up)
    kill -KILL "$a2" "$b3"
    i=0
    while [ "$(in_host ip -o link show type veth | grep -c ": ${va:0:6}" || true)" != 1 ] ||
        [ "$(in_host ip -o link show type veth | grep -c ": ${vb:0:6}" || true)" != 2 ]; do
        i=$((i + 1)); [ $i -lt 500 ] || { echo "veths of the killed namespaces still there" >&2; return 1; }
        sleep 0.01
    done
    rules_b=$(rules_of "$tag_b ")
    leases_b=$("${B[@]}" leases nbb --json)
    veths_b=$(in_host ip -o link show master nbb | awk -F': ' '{print $2}' | sed 's/@.*//' | sort)
    assert_contains "$rules_b" "8083:80/tcp"
    assert_eq "$(jq length <<<"$leases_b")" 3

    # A's gc releases A's dead lease and rewrites A's rules only (the kernel ends a dead
    # namespace's veth in the background: gc finds it gone on one of its first tries)
    gc_until_released "${A[@]}"
    assert_eq "$output" "nba $ip_a2"
    assert_eq "$(rules_of "$tag_a " | grep -c 8082 || true)" 0
    assert_contains "$(rules_of "$tag_a ")" "8080:80/tcp"
    assert_eq "$(rules_of "$tag_b ")" "$rules_b"
    assert_eq "$("${B[@]}" leases nbb --json)" "$leases_b"
    assert_eq "$(in_host ip -o link show master nbb | awk -F': ' '{print $2}' | sed 's/@.*//' | sort)" "$veths_b"

    # A's rm --force takes A's network, rules and veths, nothing of B's
    run_tool "${A[@]}" rm nba --force
    assert_eq "$(rules_of "$tag_a ")" ""
    assert_eq "$(rules_of "$tag_b ")" "$rules_b"
    assert_eq "$("${B[@]}" leases nbb --json)" "$leases_b"
    assert_eq "$(in_host ip -o link show master nbb | awk -F': ' '{print $2}' | sed 's/@.*//' | sort)" "$veths_b"
    # and B's published port still works
    serve_ctr "$b1" "b1 via B"
    run_tool "${H[@]}" timeout 5 busybox wget -qO- http://127.0.0.1:8081/
    assert_eq "$output" "b1 via B"

    # B's own gc and rm: the table goes with B's last rule
    gc_until_released "${B[@]}"
    assert_match "$output" "^nbb 10\.89\.0\.[0-9]+$"
    assert_eq "$(rules_of "$tag_b " | grep -c 8083 || true)" 0
    run_tool "${B[@]}" rm nbb --force
    run_tool "${H[@]}" nft -j list tables
    assert_json '[.nftables[] | select(.table)] | length' 0
}

# new_host : another test host (network + mount namespace); prints its pid
new_host() {
    unshare -nm --propagation private sleep infinity </dev/null >/dev/null 2>&1 3>&- &
    local pid=$! i=0
    track_pid "$pid"
    while [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" = "$(readlink /proc/self/ns/net)" ] ||
        [ -z "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" ]; do
        i=$((i + 1)); [ $i -lt 200 ] || return 1
        sleep 0.01
    done
    echo "$pid"
}

@test "one root, two network namespaces: gc, rm and attach in the other leave the network alone" {
    run_tool "${H[@]}" netbridge create nb0 --subnet 10.88.0.0/24
    c1=$(new_ctr)
    run_tool "${H[@]}" netbridge attach "$c1" --bridge nb0 --publish 8080:80
    rules=$(in_host nft list ruleset)
    H2PID=$(new_host)
    H2=(nsenter -t "$H2PID" -n -m)
    "${H2[@]}" ip link set lo up
    # gc there: the veth is not in that namespace, but the lease is not released
    run_tool "${H2[@]}" netbridge gc
    assert_eq "$output" ""
    run_tool "${H2[@]}" netbridge leases nb0 --json
    assert_json 'length' 1
    assert_json '.[0].alive' true
    # rm --force there is refused while the attachment lives; attach there too
    run_tool --rc 1 "${H2[@]}" netbridge rm nb0 --force
    assert_error netbridge "network 'nb0' was made in another network namespace and still has 1 attachment(s) there"
    c2=$(new_ctr)
    run_tool --rc 1 "${H2[@]}" netbridge attach "$c2" --bridge nb0
    assert_error netbridge "network 'nb0' was made in another network namespace"
    # nothing changed in the first host
    run_tool "${H[@]}" netbridge leases nb0 --json
    assert_json '.[0].alive' true
    assert_eq "$(in_host nft list ruleset)" "$rules"
    assert_eq "$(localnet nb0)" 1
    run_tool nsenter -t "$c1" -n busybox ping -c1 -W2 10.88.0.1
    # once the attachment is gone, rm in the other namespace clears the record only: the
    # first host's bridge stays
    kill -KILL "$c1"
    while readlink "/proc/$c1/ns/net" >/dev/null 2>&1; do sleep 0.01; done
    run_tool "${H2[@]}" netbridge rm nb0
    run_tool "${H2[@]}" netbridge ls --json
    assert_json 'length' 0
    in_host ip link show nb0 >/dev/null
}
