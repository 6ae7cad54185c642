#!/usr/bin/env bats
# A real CNI client no one here wrote drives netbridge: Podman 4 (its CNI backend) runs a
# container inside a test host network namespace; the container gets its address from
# netbridge and pings the gateway; `podman run --rm` leaves no lease and no veth behind.

load helpers

setup() {
    require_root
    require_cmd podman runc nft
    create_test_host
    H=(nsenter -t "$TEST_HOST_PID" -n -m)
    P="$TEST_DIR/podman"
    mkdir -p "$P/tmp" "$P/vol" "$P/net.d" "$P/cni-bin" "$P/graph" "$P/run" "$P/root"
    # what podman makes outside our folders, whatever its config: clean up what we caused
    HAD_LIBPOD_PARENT=0
    [ -d /sys/fs/cgroup/memory/libpod_parent ] && HAD_LIBPOD_PARENT=1
    HAD_VAR_LIB_CNI=0
    [ -d /var/lib/cni ] && HAD_VAR_LIB_CNI=1
    # podman keeps its network namespaces in /run/netns, which it first makes a mount point
    # of (a bind mount onto itself, as ip netns does) and never unmounts
    HAD_RUN_NETNS_MOUNT=0
    mountpoint -q /run/netns 2>/dev/null && HAD_RUN_NETNS_MOUNT=1
    ln -s "$(command -v netbridge)" "$P/cni-bin/netbridge"
    cat >"$P/containers.conf" <<EOC
[containers]
default_ulimits = ["nofile=20000:20000","nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
tmp_dir = "$P/tmp"
volume_path = "$P/vol"
[network]
network_backend = "cni"
network_config_dir = "$P/net.d"
cni_plugin_dirs = ["$P/cni-bin", "/usr/lib/cni"]
EOC
    cat >"$P/storage.conf" <<EOC
[storage]
driver = "vfs"
graphroot = "$P/graph"
runroot = "$P/run"
EOC
    # dataDir: podman runs DEL from a cleanup process that does not inherit our environment
    cat >"$P/net.d/nbnet.conflist" <<EOC
{"cniVersion":"1.0.0","name":"nbnet","plugins":[{"type":"netbridge","bridge":"nbpod0",
 "isGateway":true,"ipMasq":true,"dataDir":"$P/root",
 "ipam":{"type":"netbridge","subnet":"10.70.0.0/24"}}]}
EOC
    export CONTAINERS_CONF="$P/containers.conf" CONTAINERS_STORAGE_CONF="$P/storage.conf"
    export CTRKIT_ROOT="$P/root"
}

teardown() {
    kill_tracked
    rm -f /var/lib/cni/results/nbnet-* 2>/dev/null || true
    if [ "$HAD_VAR_LIB_CNI" = 0 ]; then rm -rf /var/lib/cni; fi
    # (only the mount point podman made for this test, and only once its namespaces are gone)
    if [ "$HAD_RUN_NETNS_MOUNT" = 0 ] && mountpoint -q /run/netns 2>/dev/null &&
        [ -z "$(ls -A /run/netns)" ]; then
        umount /run/netns
    fi
    if [ "$HAD_LIBPOD_PARENT" = 0 ]; then
        for c in /sys/fs/cgroup/*/libpod_parent; do
            [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
        done
    fi
    return 0
}

@test "podman (CNI backend) runs a container on a netbridge network; podman rm leaves no lease or veth" {
    make_busybox_rootfs "$P/rootfs"
    tar -C "$P/rootfs" -cf "$P/rootfs.tar" .
    run_tool podman import "$P/rootfs.tar" nbtest
    run_tool nsenter --net="/proc/$TEST_HOST_PID/ns/net" podman run --rm --network nbnet nbtest \
        sh -c 'ip -4 -o addr show dev eth0; ip route show default; ping -c1 -W2 10.70.0.1'
    assert_match "$output" 'inet 10\.70\.0\.[0-9]+/24'
    assert_contains "$output" "default via 10.70.0.1"
    assert_contains "$output" "1 packets received"
    # netbridge made the network in the test host, and podman's DEL released everything
    run_tool "${H[@]}" ip -j link show dev nbpod0
    run_tool "${H[@]}" netbridge leases nbpod0 --json
    assert_json 'length' 0
    run_tool "${H[@]}" ip -j link show master nbpod0
    assert_json 'length' 0
    run_tool podman rmi nbtest
}
