#!/usr/bin/env bats
# netbridge as a CNI plugin: ADD/CHECK/DEL/VERSION/STATUS/GC driven through the environment
# and stdin as the CNI spec says, result shape against the reference bridge plugin, IPAM
# delegated to host-local, spec error objects. All inside a test host network namespace.

load helpers
load 40-netbridge-lib

REF=/usr/lib/cni

setup() {
    [ -x "$REF/bridge" ] || skip "requires containernetworking-plugins"
    netbridge_setup
    IPAMDIR=$(mktemp -d "$TEST_DIR/ipam.XXXXXX")
}

# cni [--rc N] PLUGIN COMMAND CONTAINERID PID CONF : run a CNI plugin in the test host
cni() {
    local rc=0
    if [ "$1" = --rc ]; then rc=$2; shift 2; fi
    local plugin=$1 cmd=$2 id=$3 pid=$4 conf=$5
    local ns=""
    [ -z "$pid" ] || ns=/proc/$pid/ns/net
    run_tool --rc "$rc" "${H[@]}" env CNI_COMMAND="$cmd" CNI_CONTAINERID="$id" CNI_NETNS="$ns" \
        CNI_IFNAME=eth0 CNI_PATH="$REF" "$plugin" <<<"$conf"
}

own_conf() {
    printf '{"cniVersion":"1.0.0","name":"nbnet","type":"netbridge","bridge":"%s","isGateway":true,"ipMasq":true,"ipam":{"type":"netbridge","subnet":"%s"}%s}' \
        "$1" "$2" "${3-}"
}

# the structure of a JSON document: every path to a scalar, array indexes kept
shape() {
    jq -c '[paths(scalars) | map(tostring) | join(".")] | sort'
}

@test "VERSION and STATUS" {
    run_tool env CNI_COMMAND=VERSION netbridge </dev/null
    assert_json '.supportedVersions | index("1.0.0") != null' true
    assert_json '.cniVersion' 1.1.0
    run_tool "${H[@]}" env CNI_COMMAND=STATUS netbridge <<<'{"cniVersion":"1.1.0","name":"n","type":"netbridge"}'
    assert_eq "$output" ""
}

@test "ADD, CHECK, DEL through env and stdin; DEL is idempotent; the result has the reference bridge plugin's shape" {
    c1=$(new_ctr)
    cni netbridge ADD ctr1 "$c1" "$(own_conf cnb0 10.66.0.0/24)"
    mine=$output
    ip=$(jq -r '.ips[0].address' <<<"$mine")
    assert_match "$ip" '^10\.66\.0\.[0-9]+/24$'
    assert_json '.interfaces[2].sandbox' "/proc/$c1/ns/net" "$mine"
    assert_json '.ips[0].interface' 2 "$mine"
    assert_json '.ips[0].gateway' 10.66.0.1 "$mine"
    # the effect, seen from outside the plugin
    got=$(nsenter -t "$c1" -n ip -j addr show dev eth0 | jq -r '.[0].addr_info[] | select(.family=="inet") | "\(.local)/\(.prefixlen)"')
    assert_eq "$got" "$ip"
    run_tool nsenter -t "$c1" -n busybox ping -c1 -W2 10.66.0.1
    assert_json '.[0].address' "$(jq -r '.interfaces[2].mac' <<<"$mine")" "$(nsenter -t "$c1" -n ip -j link show dev eth0)"
    # the reference bridge plugin, same kind of config, in another container
    c2=$(new_ctr)
    ref='{"cniVersion":"1.0.0","name":"refnet","type":"bridge","bridge":"cnref0","isGateway":true,
          "ipam":{"type":"host-local","subnet":"10.67.0.0/24","dataDir":"'"$IPAMDIR"'",
                  "routes":[{"dst":"0.0.0.0/0","gw":"10.67.0.1"}]}}'
    cni "$REF/bridge" ADD ctr2 "$c2" "$ref"
    theirs=$output
    assert_eq "$(shape <<<"$mine")" "$(shape <<<"$theirs")"
    cni "$REF/bridge" DEL ctr2 "$c2" "$ref"

    cni netbridge CHECK ctr1 "$c1" "$(own_conf cnb0 10.66.0.0/24)"
    cni netbridge DEL ctr1 "$c1" "$(own_conf cnb0 10.66.0.0/24)"
    assert_eq "$output" ""
    run_tool nsenter -t "$c1" -n ip -j link show
    assert_json 'length' 1
    run_tool "${H[@]}" netbridge leases cnb0 --json
    assert_json 'length' 0
    # DEL again, and DEL without a netns (the runtime already dropped it): still success
    cni netbridge DEL ctr1 "$c1" "$(own_conf cnb0 10.66.0.0/24)"
    cni netbridge DEL ctr1 "" "$(own_conf cnb0 10.66.0.0/24)"
    # CHECK after DEL reports the container as unknown
    cni --rc 1 netbridge CHECK ctr1 "$c1" "$(own_conf cnb0 10.66.0.0/24)"
    assert_json '.code' 3
}

@test "portMappings capability publishes ports; DEL removes the rules" {
    c1=$(new_ctr)
    conf=$(own_conf cnb0 10.66.0.0/24 ',"runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]}')
    cni netbridge ADD ctr1 "$c1" "$conf"
    ip=$(jq -r '.ips[0].address | split("/")[0]' <<<"$output")
    run_tool "${H[@]}" nft -j list chain ip ctrkit published
    assert_json '[.nftables[] | select(.rule) | .rule.expr[1].dnat] | .[0].addr' "$ip"
    cni netbridge DEL ctr1 "$c1" "$conf"
    run_tool "${H[@]}" nft -j list chain ip ctrkit published
    assert_json '[.nftables[] | select(.rule)] | length' 0
}

@test "an ipam section of another type is delegated to that plugin in CNI_PATH (host-local)" {
    c1=$(new_ctr)
    conf='{"cniVersion":"1.0.0","name":"hl","type":"netbridge","bridge":"cnb1","isGateway":true,
           "ipam":{"type":"host-local","subnet":"10.68.0.0/24","dataDir":"'"$IPAMDIR"'",
                   "routes":[{"dst":"0.0.0.0/0"}]}}'
    cni netbridge ADD ctr1 "$c1" "$conf"
    ip=$(jq -r '.ips[0].address | split("/")[0]' <<<"$output")
    assert_match "$ip" '^10\.68\.0\.'
    # host-local really recorded it, and the namespace really has it
    [ -f "$IPAMDIR/hl/$ip" ]
    grep -q '^ctr1' "$IPAMDIR/hl/$ip"
    run_tool nsenter -t "$c1" -n busybox ping -c1 -W2 10.68.0.1
    cni netbridge DEL ctr1 "$c1" "$conf"
    [ ! -f "$IPAMDIR/hl/$ip" ]
    run_tool nsenter -t "$c1" -n ip -j link show
    assert_json 'length' 1
}

@test "GC releases attachments not in cni.dev/valid-attachments" {
    c1=$(new_ctr)
    c2=$(new_ctr)
    cni netbridge ADD keep "$c1" "$(own_conf cnb0 10.66.0.0/24)"
    cni netbridge ADD drop "$c2" "$(own_conf cnb0 10.66.0.0/24)"
    gc=$(own_conf cnb0 10.66.0.0/24 ',"cni.dev/valid-attachments":[{"containerID":"keep","ifname":"eth0"}]')
    gc=${gc/\"1.0.0\"/\"1.1.0\"}
    run_tool "${H[@]}" env CNI_COMMAND=GC CNI_PATH="$REF" netbridge <<<"$gc"
    run_tool "${H[@]}" netbridge leases cnb0 --json
    assert_json '[.[].container_id] | join(",")' keep
    run_tool nsenter -t "$c2" -n ip -j link show
    assert_json 'length' 1
}

@test "bad configs and environments give spec error objects, and nothing is left" {
    c1=$(new_ctr)
    links=$("${H[@]}" ip -o link show | wc -l)
    cni --rc 1 netbridge ADD x "$c1" '{"cniVersion":"1.0.0",'
    assert_json '.code' 6
    assert_json '.msg | test("decode")' true
    cni --rc 1 netbridge ADD x "$c1" '{"cniVersion":"9.9.9","name":"n","type":"netbridge","subnet":"10.66.0.0/24"}'
    assert_json '.code' 1
    cni --rc 1 netbridge ADD x "$c1" '{"cniVersion":"1.0.0","name":"n","type":"netbridge","bridge":"cnb0","subnet":"10.66.0.0/33"}'
    assert_json '.code' 7
    cni --rc 1 netbridge ADD x "$c1" '{"cniVersion":"1.0.0","name":"n","type":"netbridge","bridge":"cnb0"}'
    assert_json '.code' 7
    cni --rc 1 netbridge ADD x "$c1" '{"cniVersion":"1.0.0","name":"n","type":"netbridge","bridge":"cnb0","ipam":{"type":"no-such-ipam"}}'
    assert_json '.code' 7
    assert_json '.msg | test("no-such-ipam")' true
    run_tool --rc 1 "${H[@]}" env CNI_COMMAND=ADD CNI_CONTAINERID=x CNI_IFNAME=eth0 netbridge <<<"$(own_conf cnb0 10.66.0.0/24)"
    assert_json '.code' 4
    assert_json '.msg | test("CNI_NETNS")' true
    cni --rc 1 netbridge ADD x 999999999 "$(own_conf cnb0 10.66.0.0/24)"
    assert_json '.code' 3
    assert_eq "$("${H[@]}" ip -o link show | wc -l)" "$links"
    # an ADD that fails after creating the network's bridge (ifname taken) leaves no veth
    nsenter -t "$c1" -n ip link add eth0 type bridge
    cni --rc 1 netbridge ADD x "$c1" "$(own_conf cnb0 10.66.0.0/24)"
    assert_json '.msg | test("already exists")' true
    run_tool "${H[@]}" ip -j link show master cnb0
    assert_json 'length' 0
    run_tool "${H[@]}" netbridge leases cnb0 --json
    assert_json 'length' 0
}
