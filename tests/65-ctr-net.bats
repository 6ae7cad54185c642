#!/usr/bin/env bats
# Docker's four network modes through ctr-run, inside a test host namespace: bridge (an
# address, containers reach each other, published ports reached from another namespace),
# none, host and container:NAME.

load helpers
load 60-ctr-helpers

setup_file() { ctr_setup_file; }
teardown_file() { ctr_teardown_file; }
teardown() { ctr_teardown; }
setup() { ctr_setup_host; }

# addr NAME : container NAME's IPv4 address, as netbridge recorded it
addr() {
    jq -r '.ips[0].address' "$CTRKIT_STATE/containers/$1/net.json" | cut -d/ -f1
}

outside_ready() { # PID : it has left the test host's network namespace
    [ "$(readlink "/proc/$1/ns/net")" != "$(readlink "/proc/$TEST_HOST_PID/ns/net")" ]
}

serve() { # NAME TEXT : a detached web server answering TEXT
    run_host ctr-run -d --name "$1" "${@:3}" busybox \
        sh -c "mkdir -p /www && echo $2 >/www/index.html && exec httpd -f -p 80 -h /www"
}

@test "bridge: the container gets an address on the bridge, a default route, hosts files" {
    need_net
    run_host ctr-run --rm --name b1 busybox sh -c \
        'ip -4 -o addr show eth0; ip route show default; cat /etc/hostname; grep -w b1 /etc/hosts'
    assert_match "$output" "eth0 +inet 10\.47\.[0-9]+\.[0-9]+/16"
    assert_match "$output" "default via 10\.47\.0\.1 dev eth0"
    assert_contains "$output" "
b1
"
    # the address is the one on the bridge's side of the test host
    run_host ip -j addr show ctrkit0
    assert_json '.[0].addr_info[0].local' 10.47.0.1
}

@test "bridge: two containers reach each other" {
    need_net
    serve web1 hello-from-web1
    ip1=$(addr web1)
    wait_for run_host ctr-exec web1 wget -qO- http://127.0.0.1/
    run_host ctr-run --rm busybox sh -c "ping -c 1 -W 2 $ip1 >/dev/null && wget -qO- http://$ip1/"
    assert_eq "$output" hello-from-web1
    run_host ctr-rm -f web1
    no_leftovers web1 host
}

@test "-p: a published port is reached from another namespace through the test host's address" {
    need_net
    # "the outside world": a namespace wired to the test host by a veth of its own
    nsenter -t "$TEST_HOST_PID" -n -m unshare -n sleep infinity 3>&- &
    outside=$!
    track_pid "$outside"
    wait_for outside_ready "$outside"
    in_host ip link add vout type veth peer name vin netns "$outside"
    in_host ip addr add 192.168.77.1/24 dev vout
    in_host ip link set vout up
    nsenter -t "$outside" -n sh -c 'ip addr add 192.168.77.2/24 dev vin && ip link set vin up && ip link set lo up'
    serve pub1 published -p 8080:80
    # (ctr-run -d returns once the server process runs; give it a moment to listen)
    wait_for nsenter -t "$outside" -n timeout 2 wget -qO- http://192.168.77.1:8080/
    run_tool nsenter -t "$outside" -n timeout 5 wget -qO- http://192.168.77.1:8080/
    assert_eq "$output" published
    run_host ctr-rm -f pub1
    ! in_host nft list ruleset | grep -q 8080
}

@test "none: only lo, up" {
    need_run
    run_host ctr-run --rm --network none busybox ip -o link
    assert_eq "$(printf '%s\n' "$output" | grep -c '')" 1
    assert_match "$output" '^1: lo: <LOOPBACK,UP,LOWER_UP>'
}

@test "host: the container sees the test host's links" {
    need_run
    in_host ip link add hostmode0 type bridge
    run_host ctr-run --rm --network host busybox ip -o link
    got=$(printf '%s\n' "$output" | awk -F': ' '{print $2}' | sed 's/@.*//' | sort)
    want=$(in_host ip -o link | awk -F': ' '{print $2}' | sed 's/@.*//' | sort)
    assert_eq "$got" "$want"
    assert_contains "$got" hostmode0
}

@test "container:NAME shares the other container's interfaces" {
    need_net
    serve web2 shared-net
    pid=$(cat "$CTRKIT_STATE/containers/web2/pid")
    wait_for run_host ctr-exec web2 wget -qO- http://127.0.0.1/
    run_host ctr-run --rm --network container:web2 busybox sh -c \
        'readlink /proc/self/ns/net; ip -4 -o addr show eth0; wget -qO- http://127.0.0.1/'
    assert_eq "$(printf '%s\n' "$output" | sed -n 1p)" "$(readlink "/proc/$pid/ns/net")"
    assert_contains "$output" "inet $(addr web2)/"
    assert_contains "$output" shared-net
    run_host ctr-rm -f web2
    no_leftovers web2 host
}
