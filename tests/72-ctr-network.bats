#!/usr/bin/env bats
# Named networks (ctr-network over netbridge) and ctr-run's network flags, inside a test host
# network namespace: a network's subnet, containers finding each other by name and alias,
# every -p form (a host address, a free host port, ranges, udp), the hosts and resolv.conf
# flags, connect/disconnect on a running container, rm and prune, and bad input.

load helpers
load 60-ctr-helpers

setup_file() { ctr_setup_file; }
teardown_file() { ctr_teardown_file; }
setup() { ctr_setup_host; }
teardown() {
    # the containers, then the networks this test made (each test has a test host of its own)
    if [ -n "${TEST_HOST_PID-}" ] && [ -d "/proc/$TEST_HOST_PID" ]; then
        local c n
        for c in "$CTRKIT_STATE"/containers/*; do
            [ -d "$c" ] && in_host ctr-rm -f "${c##*/}" >/dev/null 2>&1 || true
        done
        for n in $(in_host netbridge ls -q 2>/dev/null); do
            in_host netbridge rm --force "$n" || true
        done
    fi
    ctr_teardown
}

# fails CMD... : CMD, run in the test host, exits non-zero (output in $output, $stderr)
fails() {
    run_host --rc any "$@"
    [ "$status" -ne 0 ] || { echo "succeeded: $*" >&2; return 1; }
}

# addr NAME [IFNAME] : container NAME's IPv4 address on IFNAME (eth0), seen inside it
addr() {
    in_host ctr-exec "$1" ip -4 -o addr show "${2:-eth0}" | awk '{print $4}' | cut -d/ -f1
}

serve() { # NAME TEXT ARGS... : a detached web server answering TEXT on port 80
    run_host ctr-run -d --name "$1" "${@:3}" busybox \
        sh -c "mkdir -p /www && echo $2 >/www/index.html && exec httpd -f -p 80 -h /www"
}

outside_ready() { # PID : it has left the test host's network namespace
    [ "$(readlink "/proc/$1/ns/net")" != "$(readlink "/proc/$TEST_HOST_PID/ns/net")" ]
}

# outside : "the outside world", a namespace wired to the test host (192.168.77.1) by a
# veth of its own, at 192.168.77.2; its PID in $outside
make_outside() {
    nsenter -t "$TEST_HOST_PID" -n -m unshare -n sleep infinity 3>&- &
    outside=$!
    track_pid "$outside"
    wait_for outside_ready "$outside"
    in_host ip link add vout type veth peer name vin netns "$outside"
    in_host ip addr add 192.168.77.1/24 dev vout
    in_host ip link set vout up
    nsenter -t "$outside" -n sh -c 'ip addr add 192.168.77.2/24 dev vin && ip link set vin up && ip link set lo up'
}

@test "create picks a free subnet of Docker's pools; ls, inspect show the network Docker's way" {
    need_net
    run_host ctr-network create accnet --label team=web
    id=$output
    assert_match "$id" '^[0-9a-f]{64}$'
    run_host ctr-network create other
    run_host ctr-network inspect accnet
    assert_json '.[0].Name' accnet
    assert_json '.[0].Id' "$id"
    assert_json '.[0].Driver' bridge
    assert_json '.[0].IPAM.Config[0].Subnet' 172.17.0.0/16
    assert_json '.[0].IPAM.Config[0].Gateway' 172.17.0.1
    assert_json '.[0].Labels.team' web
    bridge=$(jq -r '.[0].Options["com.docker.network.bridge.name"]' <<<"$output")
    assert_match "$bridge" '^br-[0-9a-f]{12}$'
    # the kernel's side: the bridge has the gateway address
    run_host ip -j addr show "$bridge"
    assert_json '.[0].addr_info[0].local' 172.17.0.1
    # the second network got the next free pool
    run_host ctr-network inspect --format '{{.Name}} {{.Driver}}' other
    assert_eq "$output" "other bridge"
    run_host netbridge inspect other --json
    assert_json .subnet 172.18.0.0/16
    run_host ctr-network ls --format '{{.Name}}'
    assert_eq "$output" "accnet
other"
    run_host ctr-network ls -q --filter label=team=web
    assert_eq "$output" "${id:0:12}"
    run_host ctr-network ls --filter name=oth --format json
    assert_json .Name other
    assert_json .Driver bridge
    run_host ctr-network ls
    assert_match "$(sed -n 1p <<<"$output")" '^NETWORK ID +NAME +DRIVER +SCOPE$'
    assert_match "$(sed -n 2p <<<"$output")" "^${id:0:12} +accnet +bridge +local$"
}

@test "two containers on a network get its subnet and ping each other by name and alias" {
    need_net
    run_host ctr-network create accnet --subnet 10.91.0.0/24 --ip-range 10.91.0.128/25
    run_host ctr-run -d --name c1 --network accnet --network-alias db busybox sleep 600
    a1=$(addr c1)
    assert_match "$a1" '^10\.91\.0\.(12[89]|1[3-9][0-9]|2[0-5][0-9])$'
    run_host ctr-run --rm --name c2 --network accnet busybox sh -c \
        'ip -4 -o addr show eth0; ping -c1 -W2 c1 >/dev/null && ping -c1 -W2 db >/dev/null && echo both'
    assert_match "$output" 'inet 10\.91\.0\.(12[89]|1[3-9][0-9]|2[0-5][0-9])/24'
    assert_contains "$output" both
    # and the other way: c1 finds a container that came after it
    run_host ctr-run -d --name c3 --network accnet busybox sleep 600
    run_host ctr-exec c1 ping -c1 -W2 c3
    # inspect lists them
    run_host ctr-network inspect accnet
    assert_json '[.[0].Containers[].Name] | sort | join(" ")' "c1 c3"
    assert_json '.[0].Containers[] | select(.Name == "c1") | .IPv4Address' "$a1/24"
    # the default bridge is another network: no way from there to c1
    fails ctr-run --rm busybox ping -c1 -W1 "$a1"
}

@test "-p IP:HOST:PORT answers only on that address: the test host's loopback, not from outside" {
    need_net
    make_outside
    serve lo1 on-loopback -p 127.0.0.1:18080:80
    wait_for in_host timeout 2 wget -qO- http://127.0.0.1:18080/
    run_host timeout 5 wget -qO- http://127.0.0.1:18080/
    assert_eq "$output" on-loopback
    run_host ctr-port lo1
    assert_eq "$output" "80/tcp -> 127.0.0.1:18080"
    # not on the test host's other address, not from the outside namespace
    fails timeout 3 wget -qO- http://192.168.77.1:18080/
    run_tool --rc any nsenter -t "$outside" -n timeout 3 wget -qO- http://192.168.77.1:18080/
    [ "$status" -ne 0 ]
    # the same port on every address goes out through the outside's way in
    serve all1 on-all -p 18081:80
    wait_for nsenter -t "$outside" -n timeout 2 wget -qO- http://192.168.77.1:18081/
    run_host ctr-rm -f lo1 all1
    ! in_host nft list ruleset | grep -q 1808
}

@test "-p without a host port, a range and udp: ctr-port reports the host ports and they answer" {
    need_net
    run_host ctr-run -d --name p1 -p 80 -p 9000-9001:7000-7001 -p 127.0.0.1::7002 -p 5353:53/udp busybox sh -c \
        'mkdir /www && echo web >/www/index.html && httpd -p 80 -h /www && exec httpd -f -p 7001 -h /www'
    run_host ctr-port p1 80
    assert_match "$output" '^0\.0\.0\.0:[0-9]+$'
    port=${output#*:}
    [ "$port" -ge "$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)" ]
    wait_for in_host timeout 2 wget -qO- "http://127.0.0.1:$port/"
    run_host ctr-port p1
    assert_contains "$output" "7000/tcp -> 0.0.0.0:9000"
    assert_contains "$output" "7001/tcp -> 0.0.0.0:9001"
    assert_contains "$output" "53/udp -> 0.0.0.0:5353"
    assert_match "$output" "7002/tcp -> 127\.0\.0\.1:[0-9]+"
    run_host timeout 5 wget -qO- http://127.0.0.1:9001/
    assert_eq "$output" web
    # udp: busybox has no udp server; a listener in the container's network namespace
    nsenter -t "$(cat "$CTRKIT_STATE/containers/p1/pid")" -n python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 53))
print("ready", flush=True)
print(s.recv(100).decode().strip(), flush=True)' >"$TEST_DIR/udp.got" &
    track_pid $!
    wait_for grep -q ready "$TEST_DIR/udp.got"
    # (a datagram may meet a conntrack entry still being made: sent until one arrives)
    udp_arrived() {
        in_host bash -c 'echo over-udp >/dev/udp/127.0.0.1/5353'
        sleep 0.1
        grep -q over-udp "$TEST_DIR/udp.got"
    }
    wait_for udp_arrived
    # a second container cannot take a host port that is published
    run_host --rc 125 ctr-run --rm -p 9001:80 busybox true
    assert_error ctr-run "9001"
}

# blob_put LAYOUT FILE : store FILE as a blob of the OCI layout; print its digest
blob_put() {
    local d
    d=$(sha256sum "$2" | cut -d' ' -f1)
    cp "$2" "$1/blobs/sha256/$d"
    echo "sha256:$d"
}

@test "-P publishes the image's ExposedPorts (and --expose's) on free host ports" {
    need_net
    # an image whose config exposes 80/tcp: the busybox layout with its config edited
    lay=$TEST_DIR/exposed
    rm -rf "$lay"
    run_tool mkimage-busybox --busybox "$(command -v busybox)" -o "$lay"
    m=$(jq -r '.manifests[0].digest' "$lay/index.json")
    c=$(jq -r '.config.digest' "$lay/blobs/sha256/${m#sha256:}")
    jq -c '.config.ExposedPorts = {"80/tcp": {}}' "$lay/blobs/sha256/${c#sha256:}" >"$TEST_DIR/config.json"
    c2=$(blob_put "$lay" "$TEST_DIR/config.json")
    jq -c --arg d "$c2" --argjson n "$(stat -c %s "$TEST_DIR/config.json")" \
        '.config.digest = $d | .config.size = $n' "$lay/blobs/sha256/${m#sha256:}" >"$TEST_DIR/manifest.json"
    m2=$(blob_put "$lay" "$TEST_DIR/manifest.json")
    jq --arg d "$m2" --argjson n "$(stat -c %s "$TEST_DIR/manifest.json")" \
        '.manifests[0].digest = $d | .manifests[0].size = $n' "$lay/index.json" >"$TEST_DIR/index.json"
    cp "$TEST_DIR/index.json" "$lay/index.json"
    run_host ctr-load --name exposed "$lay"
    run_host ctr-run -d --name pa1 -P --expose 7001 exposed sh -c \
        'mkdir /www && echo exposed >/www/index.html && httpd -p 7001 -h /www && exec httpd -f -p 80 -h /www'
    run_host ctr-port pa1 80
    assert_match "$output" '^0\.0\.0\.0:[0-9]+$'
    wait_for in_host timeout 2 wget -qO- "http://127.0.0.1:${output#*:}/"
    run_host ctr-port pa1 7001
    run_host timeout 5 wget -qO- "http://127.0.0.1:${output#*:}/"
    assert_eq "$output" exposed
}

@test "--add-host, --dns, --dns-search, --dns-option, --hostname, --domainname, --mac-address land in the container" {
    need_net
    run_host ctr-network create accnet --subnet 10.92.0.0/24
    run_host ctr-run --rm --network accnet --add-host db.example:10.1.2.3 --add-host gw:host-gateway \
        --dns 192.0.2.53 --dns-search example.org --dns-option ndots:3 -h web --domainname example.com \
        --mac-address 02:42:ac:11:00:99 busybox sh -c 'cat /etc/hosts /etc/resolv.conf /etc/hostname; hostname; cat /sys/class/net/eth0/address'
    assert_contains "$output" "10.1.2.3	db.example"
    assert_contains "$output" "10.92.0.1	gw"
    assert_match "$output" "10\.92\.0\.[0-9]+	web\.example\.com web"
    assert_contains "$output" "nameserver 192.0.2.53"
    assert_contains "$output" "search example.org"
    assert_contains "$output" "options ndots:3"
    [[ "$output" != *"nameserver 8.8.8.8"* ]]
    assert_match "$output" $'\nweb\nweb\n02:42:ac:11:00:99$'
}

@test "connect and disconnect add and remove an interface in a running container" {
    need_net
    run_host ctr-network create accnet --subnet 10.93.0.0/24
    run_host ctr-run -d --name k1 busybox sleep 600
    run_host ctr-run -d --name k2 --network accnet busybox sleep 600
    fails ctr-exec k1 ip link show eth1
    run_host ctr-network connect --alias kay accnet k1
    assert_match "$(addr k1 eth1)" '^10\.93\.0\.[0-9]+$'
    run_host ctr-exec k2 ping -c1 -W2 kay
    run_host ctr-exec k2 ping -c1 -W2 k1
    run_host --rc 1 ctr-network connect accnet k1
    assert_error ctr-network "already connected"
    run_host ctr-network disconnect accnet k1
    fails ctr-exec k1 ip link show eth1
    run_host --rc 1 ctr-network disconnect accnet k1
    assert_error ctr-network "not connected"
    # two networks at once: eth0 and eth1
    run_host ctr-run --rm --network accnet --network bridge busybox ip -4 -o addr
    assert_match "$output" 'eth0 +inet 10\.93\.0\.'
    assert_match "$output" 'eth1 +inet 10\.47\.'
    # and a container whose second network is accnet finds k2 there by name
    run_host ctr-run --rm --network bridge --network accnet busybox ping -c1 -W2 k2
    # the connected container's removal releases its lease there
    run_host ctr-network connect accnet k1
    run_host ctr-rm -f k1
    run_host netbridge leases accnet --json
    assert_json 'map(.name) | join(" ")' k2
}

@test "rm of a network in use is refused; prune removes only the unused ones" {
    need_net
    run_host ctr-network create used --subnet 10.94.0.0/24
    run_host ctr-network create unused1 --subnet 10.95.0.0/24 --label keep=no
    run_host ctr-network create unused2 --subnet 10.96.0.0/24 --label keep=yes
    run_host ctr-run -d --name u1 --network used busybox sleep 600
    run_host --rc 1 ctr-network rm used
    assert_error ctr-network "network used is in use by 1 container(s)"
    run_host --rc 1 ctr-network inspect nosuch
    assert_error ctr-network "network nosuch not found"
    run_host ctr-network ls --format '{{.Name}}'
    assert_contains "$output" used
    run_host ctr-network prune -f --filter label=keep=no
    assert_eq "$output" "Deleted Networks:
unused1"
    run_host ctr-network prune -f
    assert_eq "$output" "Deleted Networks:
unused2"
    run_host ctr-network ls --format '{{.Name}}'
    assert_eq "$output" used
    run_host ctr-rm -f u1
    run_host ctr-network rm used
    run_host ctr-network ls -q
    assert_eq "$output" ""
    # the bridges are gone with them
    run_host ip -o link show type bridge
    [[ "$output" != *br-* ]]
}

@test "bad input: one-line errors naming it, nothing left behind" {
    need_net
    run_host ctr-network create good --subnet 10.97.0.0/24
    for bad in "--subnet 10.0.0.0/33|10.0.0.0/33" "--subnet bogus|bogus" \
        "--subnet 10.97.0.0/16|overlaps network 'good'" "--subnet 10.98.0.0/24 --gateway 10.99.0.1|10.99.0.1" \
        "--subnet 10.98.0.0/24 --ip-range 10.99.0.0/25|10.99.0.0/25" "-d overlay|overlay" \
        "-o com.docker.network.foo=1|com.docker.network.foo" "--ipv6|IPv6" \
        "--ipv6 --subnet fd00::1/64|fd00::1/64" "--subnet fd00:1::/64|--ipv6"; do
        # shellcheck disable=SC2086 # the options, split
        run_host --rc any ctr-network create ${bad%|*} badnet
        [ "$status" -ne 0 ]
        assert_error ctr-network "${bad#*|}"
    done
    run_host --rc 1 ctr-network create good
    assert_error ctr-network "good"
    for p in 0:80 70000:80 80/icmp 1.2.3:80:80 8000-8001:80-82 '[::1]:80:80' fd00::1:80:80 x:80; do
        run_host --rc 125 ctr-run --rm --name pbad -p "$p" busybox true
        assert_error ctr-run "$p"
    done
    run_host --rc 125 ctr-run --rm --name nbad --network nosuchnet busybox true
    assert_error ctr-run "network nosuchnet not found"
    run_host --rc 125 ctr-run --rm --name abad --add-host nocolon busybox true
    assert_error ctr-run "nocolon"
    # nothing left: one network, no container, no stray bridge, no lease, no port rule
    run_host ctr-network ls --format '{{.Name}}'
    assert_eq "$(grep -v ctrkit0 <<<"$output")" good
    [ -z "$(ls "$CTRKIT_STATE/containers")" ]
    run_host ip -o link show type bridge
    assert_eq "$(grep -c br- <<<"$output")" 1
    host_veths 0
    ! in_host nft list ruleset | grep -q "dnat to"
}

@test "--ipv6: dual-stack addresses, default route, NAT66 out, published ports from outside on IPv6" {
    need_net
    make_outside
    in_host ip -6 addr add fd00:77::1/64 dev vout nodad
    nsenter -t "$outside" -n ip -6 addr add fd00:77::2/64 dev vin nodad
    run_host ctr-network create v6net --ipv6 --subnet fd00:db8:1::/64 --subnet 10.98.0.0/24
    run_host ctr-network inspect v6net
    assert_json '.[0].EnableIPv6' true
    assert_json '.[0].IPAM.Config[1].Subnet' fd00:db8:1::/64
    serve s6 over-v6 --network v6net -p 18082:80 -p '[fd00:77::1]:18083:80'
    run_host ctr-port s6
    assert_contains "$output" "80/tcp -> [fd00:77::1]:18083"
    run_host ctr-run --rm --network v6net --ip6 fd00:db8:1::99 busybox sh -c \
        'ip -6 -o addr show eth0 scope global; ip -6 route show default; ping -6 -c1 -W2 fd00:db8:1::2 >/dev/null && echo peer'
    assert_match "$output" 'inet6 fd00:db8:1::99/64'
    assert_match "$output" 'default via fd00:db8:1::1 dev eth0'
    assert_contains "$output" peer
    # NAT66: the outside has no route to fd00:db8:1::/64, its replies go to the test host
    run_host ctr-run --rm --network v6net busybox ping -6 -c1 -W2 fd00:77::2
    # the published port, from outside, on the test host's IPv6 address
    wait_for nsenter -t "$outside" -n timeout 2 wget -qO- "http://[fd00:77::1]:18082/"
    run_tool nsenter -t "$outside" -n timeout 5 wget -qO- "http://[fd00:77::1]:18082/"
    assert_eq "$output" over-v6
    # the port bound to an IPv6 address: there, and not on the IPv4 address
    run_tool nsenter -t "$outside" -n timeout 5 wget -qO- "http://[fd00:77::1]:18083/"
    assert_eq "$output" over-v6
    run_tool --rc any nsenter -t "$outside" -n timeout 3 wget -qO- "http://192.168.77.1:18083/"
    [ "$status" -ne 0 ]
    # IPv6 loopback cannot be forwarded; an IPv6 address on an IPv4 network is refused
    run_host --rc 125 ctr-run --rm --network v6net -p '[::1]:18084:80' busybox true
    assert_error ctr-run "loopback"
    run_host --rc 125 ctr-run --rm -p '[fd00:77::1]:18084:80' busybox true
    assert_error ctr-run "no IPv6 subnet"
    run_host --rc 125 ctr-run --rm --network v6net --ip6 fd00:db8:1::2 busybox true
    assert_error ctr-run "fd00:db8:1::2 is already leased"
    run_host ctr-rm -f s6
    run_host ctr-network rm v6net
    run_host nft list tables
    [[ "$output" != *ctrkit6* ]]
}

@test "CNI: hostIP and IPAM routes are honoured, vlan is refused with code 7 naming it" {
    need_net
    conf='{"cniVersion":"1.0.0","name":"n","type":"netbridge","bridge":"cnb7","isGateway":true,"vlan":12,"ipam":{"type":"netbridge","subnet":"10.77.0.0/24"}}'
    run_host --rc 1 env CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=/proc/1/ns/net CNI_IFNAME=eth0 netbridge <<<"$conf"
    assert_json .code 7
    assert_contains "$(jq -r .msg <<<"$output")" "'vlan'"
    nsenter -t "$TEST_HOST_PID" -n -m unshare -n sleep infinity 3>&- &
    c=$!
    track_pid "$c"
    wait_for outside_ready "$c"
    conf='{"cniVersion":"1.0.0","name":"n","type":"netbridge","bridge":"cnb7","isGateway":true,"ipam":{"type":"netbridge","subnet":"10.77.0.0/24","routes":[{"dst":"10.200.0.0/16"}]},"runtimeConfig":{"portMappings":[{"hostPort":18090,"containerPort":80,"protocol":"tcp","hostIP":"127.0.0.1"}]}}'
    run_host env CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS="/proc/$c/ns/net" CNI_IFNAME=eth0 netbridge <<<"$conf"
    assert_json '.routes | map(.dst) | join(" ")' "0.0.0.0/0 10.200.0.0/16"
    run_tool nsenter -t "$c" -n ip route show 10.200.0.0/16
    assert_eq "$output" "10.200.0.0/16 via 10.77.0.1 dev eth0 "
    run_host nft list chain ip ctrkit published
    assert_match "$output" 'ip daddr 127\.0\.0\.1 tcp dport 18090 dnat to 10\.77\.0\.[0-9]+:80'
    run_host env CNI_COMMAND=DEL CNI_CONTAINERID=c1 CNI_NETNS="/proc/$c/ns/net" CNI_IFNAME=eth0 netbridge <<<"$conf"
}
