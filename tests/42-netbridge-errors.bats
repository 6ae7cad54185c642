#!/usr/bin/env bats
# netbridge bad input: one clear error line naming the input, the right exit status, and
# nothing half-made (links, leases, rules). All inside a test host network namespace.

load helpers
load 40-netbridge-lib

setup() {
    netbridge_setup
}

# the test host's links, addresses, rules and netbridge's leases, in one text
snapshot() {
    "${H[@]}" ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort
    "${H[@]}" ip -o addr show | awk '{print $2, $4}' | sort
    "${H[@]}" nft list ruleset
    cat "$CTRKIT_ROOT"/netbridge/networks/*.json 2>/dev/null || true
}

@test "create: bad CIDR, bad gateway, bad name, overlaps are refused and make nothing" {
    before=$(snapshot)
    nb_fails 2 "invalid subnet '10.88.0.0'" create nb0 --subnet 10.88.0.0
    nb_fails 2 "invalid subnet '300.1.0.0/16'" create nb0 --subnet 300.1.0.0/16
    nb_fails 2 "prefix length" create nb0 --subnet 10.88.0.0/31
    nb_fails 2 "host bits" create nb0 --subnet 10.88.0.1/24
    nb_fails 1 "gateway 10.89.0.1 is not a host address of 10.88.0.0/24" create nb0 --subnet 10.88.0.0/24 --gateway 10.89.0.1
    nb_fails 1 "invalid bridge name 'a-much-too-long-bridge'" create a-much-too-long-bridge --subnet 10.88.0.0/24
    nb_fails 2 "invalid MTU" create nb0 --subnet 10.88.0.0/24 --mtu 12
    assert_eq "$(snapshot)" "$before"
    # overlapping an existing route of the (test) host, and another network
    "${H[@]}" ip link add nbx type bridge
    "${H[@]}" ip addr add 172.30.0.1/16 dev nbx
    "${H[@]}" ip link set nbx up
    before=$(snapshot)
    nb_fails 1 "subnet 172.30.5.0/24 overlaps" create nb0 --subnet 172.30.5.0/24
    assert_eq "$(snapshot)" "$before"
    run_tool "${H[@]}" netbridge create nb0 --subnet 10.88.0.0/16
    before=$(snapshot)
    nb_fails 1 "subnet 10.88.4.0/24 overlaps network 'nb0' (10.88.0.0/16)" create nb1 --subnet 10.88.4.0/24
    nb_fails 1 "network 'nb0' already exists" create nb0 --subnet 10.99.0.0/24
    nb_fails 1 "a link with that name already exists" create nbx --subnet 10.99.0.0/24
    assert_eq "$(snapshot)" "$before"
}

@test "attach: missing network, missing netns, bad ifname, bad or taken address, port already published" {
    run_tool "${H[@]}" netbridge create nb0 --subnet 10.88.0.0/24
    c1=$(new_ctr)
    c2=$(new_ctr)
    run_tool "${H[@]}" netbridge attach "$c1" --bridge nb0 --ip 10.88.0.10 --publish 8080:80
    before=$(snapshot)
    ctr_before=$(nsenter -t "$c2" -n ip -o link show)
    nb_fails 1 "no network named 'nope'" attach "$c2" --bridge nope
    nb_fails 1 "network namespace '999999999' cannot be opened" attach 999999999 --bridge nb0
    nb_fails 1 "network namespace '/nonexistent/ns' cannot be opened" attach /nonexistent/ns --bridge nb0
    nb_fails 1 "cannot be opened: not a network namespace" attach "/proc/$c2/ns/mnt" --bridge nb0
    nb_fails 1 "invalid interface name 'an-interface-too-long'" attach "$c2" --bridge nb0 --ifname an-interface-too-long
    nb_fails 1 "address 10.89.0.5 is outside subnet 10.88.0.0/24" attach "$c2" --bridge nb0 --ip 10.89.0.5
    nb_fails 1 "address 10.88.0.1 is reserved" attach "$c2" --bridge nb0 --ip 10.88.0.1
    nb_fails 1 "address 10.88.0.255 is reserved" attach "$c2" --bridge nb0 --ip 10.88.0.255
    nb_fails 1 "address 10.88.0.10 is already leased in network 'nb0'" attach "$c2" --bridge nb0 --ip 10.88.0.10
    nb_fails 1 "host port 8080/tcp is already published" attach "$c2" --bridge nb0 --publish 8080:81
    nb_fails 1 "host port 9090/tcp is given twice" attach "$c2" --bridge nb0 -p 9090:80 -p 9090:81
    nb_fails 2 "invalid port mapping '8080:'" attach "$c2" --bridge nb0 --publish 8080:
    nb_fails 2 "invalid MAC address 'zz'" attach "$c2" --bridge nb0 --mac zz
    nb_fails 2 "invalid value 'ten' for '--ip <IP>'" attach "$c2" --bridge nb0 --ip ten
    nb_fails 1 "already attached to 'nb0'" attach "$c1" --bridge nb0
    assert_eq "$(snapshot)" "$before"
    assert_eq "$(nsenter -t "$c2" -n ip -o link show)" "$ctr_before"
    # the same port over udp is another port
    run_tool "${H[@]}" netbridge attach "$c2" --bridge nb0 --publish 8080:80/udp
}

@test "a failure halfway (interface name taken inside the namespace) is rolled back" {
    run_tool "${H[@]}" netbridge create nb0 --subnet 10.88.0.0/24
    c=$(new_ctr)
    nsenter -t "$c" -n ip link add eth0 type bridge
    before=$(snapshot)
    nb_fails 1 "interface 'eth0' already exists in network namespace '/proc/$c/ns/net'" attach "$c" --bridge nb0 --publish 8080:80
    assert_eq "$(snapshot)" "$before"
    # a bridge whose link vanished behind netbridge's back
    "${H[@]}" ip link del nb0
    nb_fails 1 "bridge 'nb0' does not exist" attach "$c" --bridge nb0 --ifname eth1
    run_tool "${H[@]}" netbridge rm nb0
}

@test "detach, rm, leases, inspect of unknown things" {
    nb_fails 1 "no network named 'nope'" detach 1 --bridge nope
    nb_fails 1 "no network named 'nope'" rm nope
    nb_fails 1 "no network named 'nope'" leases nope
    nb_fails 1 "no network named 'nope'" inspect nope --json
    nb_fails 2 "--bridge is required" attach 1
    nb_fails 2 "detach needs NETNS or --name" detach --bridge nb0
}
