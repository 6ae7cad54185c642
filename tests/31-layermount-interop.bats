#!/usr/bin/env bats
# layermount with tools no one here wrote: images built by umoci and copied by skopeo import
# and mount; `save` output is unpacked by umoci and read by skopeo. Also: 128 layers, and
# file capabilities, device nodes, fifos and sparse files surviving import.

load helpers
load 30-layermount-lib

setup_file() {
    ctrkit_setup_file
    [ "$(id -u)" = 0 ] || return 0
    make_layers "$TEST_DIR/w"
    make_oci_layout "$TEST_DIR/w" "$TEST_DIR/oci"
    make_docker_archive "$TEST_DIR/w" "$TEST_DIR/docker.tar"
}

setup() {
    require_root
    export MNT="$TEST_DIR/mnt-$BATS_TEST_NUMBER"
    mkdir -p "$MNT"
}

teardown() {
    ctrkit_teardown
    if [ -f "$TEST_DIR/podman-dir" ]; then
        rm -rf "$(cat "$TEST_DIR/podman-dir")" "$TEST_DIR/podman-dir"
    fi
    for c in $(layermount containers --json 2>/dev/null | jq -r '.[].id' 2>/dev/null); do
        layermount rm-container "$c" || true
    done
}

# mounted_tree IMAGE : the sorted tree of a fresh container of IMAGE, seen at its mount point
mounted_tree() {
    run_tool unshare -m --propagation private bash -euc "
        layermount mount '$1' '$MNT' --container tree-\$\$ >/dev/null
        cd '$MNT' && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort
        cd / && layermount umount '$MNT' && layermount rm-container tree-\$\$"
}

@test "interop: an image built with umoci (two layers, a deletion) imports and mounts" {
    require_cmd umoci
    u="$TEST_DIR/umoci"
    umoci init --layout "$u"
    umoci new --image "$u:img"
    umoci unpack --image "$u:img" "$TEST_DIR/ub1"
    mkdir -p "$TEST_DIR/ub1/rootfs/etc" "$TEST_DIR/ub1/rootfs/app"
    echo one >"$TEST_DIR/ub1/rootfs/etc/one"
    echo del >"$TEST_DIR/ub1/rootfs/app/del"
    umoci repack --image "$u:img" "$TEST_DIR/ub1"
    umoci unpack --image "$u:img" "$TEST_DIR/ub2"
    rm "$TEST_DIR/ub2/rootfs/app/del"
    echo two >"$TEST_DIR/ub2/rootfs/app/two"
    umoci repack --image "$u:img" "$TEST_DIR/ub2"
    umoci config --image "$u:img" --config.cmd /app/two --config.workingdir /app
    run_tool layermount import "$u" --name umoci:img
    run_tool layermount inspect umoci:img --json
    assert_json '.layers | length' 2
    assert_json '.config.Cmd | join(" ")' /app/two
    assert_json '.config.WorkingDir' /app
    mounted_tree umoci:img
    assert_eq "$output" "app
app/two
etc
etc/one"
}

@test "interop: images written by skopeo copy into OCI layouts import and mount" {
    require_cmd skopeo
    skopeo --insecure-policy copy -q "oci:$TEST_DIR/oci:latest" "oci:$TEST_DIR/sk1:copied"
    run_tool layermount import "$TEST_DIR/sk1" --name sk:oci
    mounted_tree sk:oci
    assert_eq "$output" "$EXPECTED_TREE"
    skopeo --insecure-policy copy -q "docker-archive:$TEST_DIR/docker.tar" "oci:$TEST_DIR/sk2:fromdocker"
    tar -C "$TEST_DIR/sk2" -cf "$TEST_DIR/sk2.tar" .
    run_tool layermount import "$TEST_DIR/sk2.tar" --name sk:docker
    mounted_tree sk:docker
    assert_eq "$output" "$EXPECTED_TREE"
}

@test "interop: umoci unpacks 'layermount save'; skopeo reads the docker format" {
    require_cmd umoci skopeo
    layermount import "$TEST_DIR/oci" --name saved:v1 >/dev/null
    run_tool layermount save saved:v1 -o "$TEST_DIR/saved.tar"
    mkdir -p "$TEST_DIR/saved"
    tar -C "$TEST_DIR/saved" -xf "$TEST_DIR/saved.tar"
    umoci unpack --image "$TEST_DIR/saved:v1" "$TEST_DIR/bundle"
    assert_eq "$(tree "$TEST_DIR/bundle/rootfs")" "$EXPECTED_TREE"
    assert_eq "$(stat -c %a "$TEST_DIR/bundle/rootfs/bin/su")" 4755
    assert_eq "$(jq -r '.process.cwd' "$TEST_DIR/bundle/config.json")" /data
    # docker format, to stdout: skopeo reads it, and layermount imports it again
    layermount save saved:v1 --format docker >"$TEST_DIR/saved-docker.tar"
    skopeo --insecure-policy copy -q "docker-archive:$TEST_DIR/saved-docker.tar" "oci:$TEST_DIR/sk3:again"
    umoci unpack --image "$TEST_DIR/sk3:again" "$TEST_DIR/bundle2"
    assert_eq "$(tree "$TEST_DIR/bundle2/rootfs")" "$EXPECTED_TREE"
    run_tool layermount import "$TEST_DIR/saved-docker.tar"
    mounted_tree saved:v1
    assert_eq "$output" "$EXPECTED_TREE"
}

@test "a 128-layer image mounts (beyond overlay's legacy option-length limit)" {
    d="$TEST_DIR/many"
    mkdir -p "$d/out"
    ids=()
    layers=()
    for i in $(seq 1 128); do
        mkdir -p "$d/l$i/files"
        echo "$i" >"$d/l$i/files/f$i"
        # layer 100 deletes the file of layer 1
        [ "$i" != 100 ] || : >"$d/l$i/files/.wh.f1"
        tar -C "$d/l$i" -cf "$d/layer.tar" .
        h=$(sha "$d/layer.tar")
        mkdir -p "$d/out/$h"
        mv "$d/layer.tar" "$d/out/$h/layer.tar"
        ids+=("sha256:$h")
        layers+=("$h/layer.tar")
    done
    jq -cn --args '{architecture:"amd64", os:"linux", config:{}, rootfs:{type:"layers", diff_ids:$ARGS.positional}}' \
        "${ids[@]}" >"$d/out/config.json"
    jq -cn --args '[{Config:"config.json", RepoTags:["many:128"], Layers:$ARGS.positional}]' "${layers[@]}" \
        >"$d/out/manifest.json"
    run_tool layermount import "$d/out"
    run_tool unshare -m --propagation private bash -euc "
        layermount mount many:128 '$MNT' --container many >/dev/null
        ls '$MNT/files' | wc -l
        cat '$MNT/files/f128'
        [ -e '$MNT/files/f1' ] && echo f1-visible || echo f1-deleted
        layermount umount many"
    assert_eq "$output" "127
128
f1-deleted"
    # the mount(2) fallback fits 128 layers in one option page thanks to short layer links
    run_tool unshare -m --propagation private bash -euc "
        CTRKIT_OVERLAY_LEGACY=1 layermount mount many:128 '$MNT' --container many >/dev/null
        findmnt -n -o OPTIONS '$MNT' | grep -o 'lowerdir=l/[0-9a-f]*' | head -1 | wc -l
        ls '$MNT/files' | wc -l
        layermount umount many"
    assert_eq "$output" "1
127"
}

@test "file capabilities, device nodes, fifos and sparse files survive import" {
    require_cmd setcap getcap
    d="$TEST_DIR/special"
    mkdir -p "$d/bin" "$d/dev"
    cp /bin/true "$d/bin/ping"
    setcap cap_net_raw+ep "$d/bin/ping"
    mknod "$d/dev/null" c 1 3
    mknod "$d/dev/loopx" b 7 200
    mkfifo "$d/dev/fifo"
    truncate -s 100M "$d/sparse"
    echo tail >>"$d/sparse"
    tar --xattrs --xattrs-include='security.*' --sparse -C "$d" -cf "$TEST_DIR/special.tar" .
    run_tool layermount import "$TEST_DIR/special.tar" --name special
    run_tool unshare -m --propagation private bash -euc "
        layermount mount special '$MNT' --container sp >/dev/null
        getcap '$MNT/bin/ping' | sed 's|.* ||'
        stat -c '%F %t:%T' '$MNT/dev/null' '$MNT/dev/loopx'
        stat -c '%F' '$MNT/dev/fifo'
        stat -c '%s' '$MNT/sparse'
        echo \$(( \$(stat -c '%b * %B' '$MNT/sparse') < 1048576 ))
        tail -c 5 '$MNT/sparse'
        layermount umount sp"
    assert_eq "$output" "cap_net_raw=ep
character special file 1:3
block special file 7:c8
fifo
104857605
1
tail"
}

@test "interop: podman load accepts 'layermount save' in both formats" {
    require_cmd podman
    layermount import "$TEST_DIR/oci" --name podman/three:v1 >/dev/null
    layermount save podman/three:v1 -o "$TEST_DIR/p-oci.tar"
    layermount save podman/three:v1 --format docker -o "$TEST_DIR/p-docker.tar"
    # podman wants a runroot shorter than 50 characters
    p=$(mktemp -d /tmp/lm-podman.XXXXXX)
    echo "$p" >"$TEST_DIR/podman-dir"
    mkdir -p "$p/tmp"
    printf '[storage]\ndriver = "vfs"\ngraphroot = "%s/graph"\nrunroot = "%s/run"\n' "$p" "$p" >"$p/storage.conf"
    printf '[engine]\nevents_logger = "file"\nevents_logfile_path = "%s/events.log"\ntmp_dir = "%s/tmp"\ncgroup_manager = "cgroupfs"\n' \
        "$p" "$p" >"$p/containers.conf"
    export CONTAINERS_STORAGE_CONF="$p/storage.conf" CONTAINERS_CONF="$p/containers.conf"
    pm=(unshare -m --propagation private podman --root "$p/graph" --runroot "$p/run")
    run_tool "${pm[@]}" load -i "$TEST_DIR/p-oci.tar"
    assert_contains "$output" "Loaded image"
    run_tool "${pm[@]}" images --format '{{.Repository}}:{{.Tag}}'
    assert_eq "$output" "localhost/podman/three:v1"
    run_tool "${pm[@]}" rmi -a -f
    run_tool "${pm[@]}" load -i "$TEST_DIR/p-docker.tar"
    run_tool "${pm[@]}" image inspect localhost/podman/three:v1 --format '{{len .RootFS.Layers}} {{.Config.WorkingDir}}'
    assert_eq "$output" "3 /data"
    "${pm[@]}" rmi -a -f >/dev/null 2>&1 || true
    rm -rf "$p"
}
