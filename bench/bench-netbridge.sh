#!/usr/bin/env bash
# bench-netbridge.sh - netbridge attach/detach against the reference CNI bridge plugin's
# ADD/DEL (host-local IPAM) and against the same steps done with `ip` commands; with a
# published port, against the bridge plugin chained with the portmap plugin.
#
# Everything runs inside a private network + mount namespace made here (the "test host"):
# the real host's links, routes and firewall are never touched. Each timed command is
# paired with a --prepare step that undoes it, so every run starts from the same state.
set -euo pipefail

if [ "${NB_BENCH_INNER:-}" != 1 ]; then
    exec unshare -nm --propagation private env NB_BENCH_INNER=1 bash "$0" "$@"
fi

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-30}
CNI=/usr/lib/cni
command -v netbridge >/dev/null || { echo "bench: netbridge not built (cargo build --release)" >&2; exit 1; }
[ -x "$CNI/bridge" ] || { echo "bench: $CNI/bridge missing (containernetworking-plugins)" >&2; exit 1; }

work=$(mktemp -d /tmp/ctrkit-bench-nb.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
export CTRKIT_ROOT="$work/root"
ip link set lo up

# one "container" namespace per contender; prints its pid (the caller records it: ctr runs
# in a command substitution, so it cannot add to pids itself)
ctr() {
    unshare -n sleep infinity </dev/null >/dev/null 2>&1 &
    local i=0
    while [ "$(readlink "/proc/$!/ns/net")" = "$(readlink /proc/self/ns/net)" ]; do
        i=$((i + 1)); [ $i -lt 200 ] || exit 1; sleep 0.01
    done
    echo $!
}
c_nb=$(ctr)
pids+=("$c_nb")
c_cni=$(ctr)
pids+=("$c_cni")
c_ip=$(ctr)
pids+=("$c_ip")

netbridge create nbb --subnet 10.201.0.0/24 >/dev/null
ip link add ipb type bridge
ip addr add 10.203.0.1/24 dev ipb
ip link set ipb up

cni_conf="$work/cni.json"
cat >"$cni_conf" <<EOF
{"cniVersion":"1.0.0","name":"benchnet","type":"bridge","bridge":"cnib","isGateway":true,
 "ipam":{"type":"host-local","subnet":"10.202.0.0/24","dataDir":"$work/cni-ipam",
         "routes":[{"dst":"0.0.0.0/0"}]}}
EOF
cni() {
    printf 'env CNI_COMMAND=%s CNI_CONTAINERID=bench CNI_NETNS=/proc/%s/ns/net CNI_IFNAME=eth0 CNI_PATH=%s %s/bridge <%s >/dev/null' \
        "$1" "$c_cni" "$CNI" "$CNI" "$cni_conf"
}
nb_attach="netbridge attach $c_nb --bridge nbb >/dev/null"
nb_detach="netbridge detach $c_nb --bridge nbb"
ip_attach="ip link add vbench type veth peer name eth0 netns $c_ip && ip link set vbench master ipb up \
&& nsenter -t $c_ip -n sh -c 'ip addr add 10.203.0.2/24 dev eth0 && ip link set eth0 up && ip link set lo up \
&& ip route add default via 10.203.0.1'"
ip_detach="ip link del vbench"
ip_clean="ip link del vbench 2>/dev/null || true"

# compare_prep TITLE NAME PREPARE CMD [NAME PREPARE CMD ...] : like compare (lib.sh), with a
# --prepare step per command; report (lib.sh) prints the medians
compare_prep() {
    local title=$1
    shift
    local names=() args=()
    while [ $# -ge 3 ]; do
        names+=("$1")
        args+=(--prepare "$2" "$3")
        shift 3
    done
    local json="$work/h.json"
    # hyperfine wants the --prepare options before the commands, in the same order
    local preps=() cmds=() i
    for ((i = 0; i < ${#args[@]}; i += 3)); do
        preps+=(--prepare "${args[$((i + 1))]}")
        cmds+=("${args[$((i + 2))]}")
    done
    if ! hyperfine --warmup 2 --runs "$RUNS" --style none --export-json "$json" "${preps[@]}" "${cmds[@]}" >/dev/null 2>"$json.err"; then
        echo "bench: $title: a command failed:" >&2
        cat "$json.err" >&2
        return 1
    fi
    report "$title ($RUNS runs, median)" "${names[@]}" -- "$json"
}

compare_prep "attach: a container onto a bridge (veth, address, lo, default route)" \
    "netbridge attach" "$nb_detach" "$nb_attach" \
    "CNI bridge plugin ADD (host-local)" "$(cni DEL)" "$(cni ADD)" \
    "ip commands" "$ip_clean" "$ip_attach"

compare_prep "detach: remove the veth and release the address" \
    "netbridge detach" "$nb_detach; $nb_attach" "$nb_detach" \
    "CNI bridge plugin DEL (host-local)" "$(cni DEL); $(cni ADD)" "$(cni DEL)" \
    "ip link del" "$ip_clean; $ip_attach" "$ip_detach"

# a published port, the network's first: netbridge adds its DNAT rule over netlink (the
# network's other rules do not change with ports); the CNI way is the bridge plugin chained
# with the portmap plugin (iptables), handed the bridge's result as a runtime does
nb_pub_attach="netbridge attach $c_nb --bridge nbb --publish 18080:80 >/dev/null"
cat >"$work/cni-pub.sh" <<EOF
set -e
export CNI_COMMAND=\$1 CNI_CONTAINERID=bench CNI_NETNS=/proc/$c_cni/ns/net CNI_IFNAME=eth0 CNI_PATH=$CNI
pm() {
    printf '{"cniVersion":"1.0.0","name":"benchnet","type":"portmap","capabilities":{"portMappings":true},
"runtimeConfig":{"portMappings":[{"hostPort":18080,"containerPort":80,"protocol":"tcp"}]}%s}' "\$1" \
        | $CNI/portmap >/dev/null
}
if [ "\$1" = ADD ]; then
    res=\$($CNI/bridge <$cni_conf)
    pm ",\"prevResult\":\$res"
else
    pm ""
    $CNI/bridge <$cni_conf >/dev/null
fi
EOF
compare_prep "attach --publish: the network's first published port" \
    "netbridge attach --publish" "$nb_detach" "$nb_pub_attach" \
    "CNI bridge + portmap ADD" "bash $work/cni-pub.sh DEL" "bash $work/cni-pub.sh ADD"

compare_prep "detach of the network's last published port" \
    "netbridge detach" "$nb_detach; $nb_pub_attach" "$nb_detach" \
    "CNI portmap + bridge DEL" "bash $work/cni-pub.sh DEL; bash $work/cni-pub.sh ADD" "bash $work/cni-pub.sh DEL"
bash "$work/cni-pub.sh" DEL

# the container exit path: the namespace is already gone (the kernel took the veth with
# it), so detach only releases the lease (and the CNI plugin only its IPAM entry)
cat >"$work/gone-prep.sh" <<EOF
# attach a throwaway namespace (netbridge or the CNI plugin), then let it die
unshare -n sleep 100 </dev/null >/dev/null 2>&1 &
p=\$!
while [ "\$(readlink /proc/\$p/ns/net)" = "\$(readlink /proc/self/ns/net)" ]; do sleep 0.002; done
if [ "\$1" = nb ]; then
    netbridge attach \$p --bridge nbb --name gone >/dev/null
    br=nbb
else
    env CNI_COMMAND=ADD CNI_CONTAINERID=gone CNI_NETNS=/proc/\$p/ns/net CNI_IFNAME=eth0 \\
        CNI_PATH=$CNI $CNI/bridge <$cni_conf >/dev/null
    br=cnib
fi
kill -KILL \$p
wait \$p 2>/dev/null
while [ "\$(ip -o link show master \$br | wc -l)" -gt 0 ]; do sleep 0.002; done
EOF
cni_gone="env CNI_COMMAND=DEL CNI_CONTAINERID=gone CNI_NETNS=/proc/999999999/ns/net CNI_IFNAME=eth0 \
CNI_PATH=$CNI $CNI/bridge <$cni_conf >/dev/null"
compare_prep "detach after the container's namespace is gone (exit path)" \
    "netbridge detach (namespace gone)" "bash $work/gone-prep.sh nb" "netbridge detach --name gone --bridge nbb" \
    "CNI bridge plugin DEL (namespace gone)" "bash $work/gone-prep.sh cni" "$cni_gone"
