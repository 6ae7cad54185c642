#!/usr/bin/env bats
# layermount: a 3-layer image (a whiteout, an opaque directory) in docker-save, OCI-layout
# and rootfs-tar forms; mounts, container layers, diff, commit, export, inspect, rm, gc.
# Every mount happens inside a private mount namespace (in_private_mnt) that ends with
# the test, and is also unmounted explicitly.

load helpers
load 30-layermount-lib

setup_file() {
    ctrkit_setup_file
    [ "$(id -u)" = 0 ] || return 0
    W="$TEST_DIR/w"
    make_layers "$W"
    make_docker_archive "$W" "$TEST_DIR/docker.tar"
    make_oci_layout "$W" "$TEST_DIR/oci"
    tar -C "$TEST_DIR/oci" -cf "$TEST_DIR/oci.tar" .
    make_rootfs_tar "$W" "$TEST_DIR/rootfs.tar"
}

setup() {
    require_root
    export MNT="$TEST_DIR/mnt-$BATS_TEST_NUMBER"
    mkdir -p "$MNT"
}

teardown() {
    ctrkit_teardown
    # mounts lived in the tests' private namespaces; drop container layers the test made
    for c in $(layermount containers --json 2>/dev/null | jq -r '.[].id' 2>/dev/null); do
        layermount rm-container "$c" || true
    done
}

@test "import: docker-save archive, OCI layout dir and tar, rootfs tar; IDs printed" {
    run_tool layermount import "$TEST_DIR/docker.tar"
    assert_match "$output" '^sha256:[0-9a-f]{64}$'
    docker_id=$output
    run_tool layermount import "$TEST_DIR/oci" --name three:oci
    oci_id=$output
    # the same config and layers: the same image, and no layer stored twice
    assert_eq "$oci_id" "$docker_id"
    run_tool layermount import "$TEST_DIR/oci.tar" --name three:ocitar
    assert_eq "$output" "$docker_id"
    run_tool layermount import - --name three:rootfs <"$TEST_DIR/rootfs.tar"
    rootfs_id=$output
    run_tool layermount images --json
    assert_json 'length' 2
    assert_json "map(select(.id == \"$docker_id\"))[0].names | sort | join(\",\")" \
        "test/three:docker,three:oci,three:ocitar"
    assert_json "map(select(.id == \"$rootfs_id\"))[0].layers" 1
    run_tool layermount layers --json
    assert_json 'length' 4
    # the docker archive's diff_ids are the sha256 of the uncompressed layer tars
    for i in 1 2 3; do
        assert_json "map(.diff_id) | index(\"sha256:$(sha "$TEST_DIR/w/l$i.tar")\") != null" true
    done
}

@test "import: a progress line on stderr only when stderr is a terminal" {
    require_cmd script
    CTRKIT_ROOT="$TEST_DIR/notty" run_tool layermount import "$TEST_DIR/oci"
    assert_eq "$stderr" ""
    run_tool script -qec "CTRKIT_ROOT='$TEST_DIR/tty' layermount import '$TEST_DIR/oci'" /dev/null
    assert_contains "$output" "layer 3/3"
    assert_match "$output" 'sha256:[0-9a-f]{64}'
    rm -rf "$TEST_DIR/notty" "$TEST_DIR/tty"
}

@test "mount: the merged view applies the whiteout and the opaque directory" {
    for img in three:oci three:rootfs; do
        run_tool unshare -m --propagation private bash -euc "
            t=\$(layermount mount $img '$MNT' --container view)
            [ \"\$t\" = '$MNT' ]
            findmnt -n -o FSTYPE '$MNT'
            cd '$MNT' && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort
            cd / && layermount umount '$MNT'"
        assert_eq "$output" "overlay
$EXPECTED_TREE"
        layermount rm-container view
    done
}

@test "mount: owners, setuid, mtimes, symlinks and hardlinks are kept" {
    run_tool unshare -m --propagation private bash -euc "
        layermount mount three:oci '$MNT' --container meta >/dev/null
        stat -c '%a %U' '$MNT/bin/su'
        stat -c %Y '$MNT/etc/hostname' >/dev/null
        readlink '$MNT/etc/link'
        [ \$(stat -c %i '$MNT/etc/hard') = \$(stat -c %i '$MNT/etc/hostname') ] && echo hardlinked
        cat '$MNT/etc/new2' '$MNT/data/c'
        layermount umount meta"
    assert_eq "$output" "4755 root
hostname
hardlinked
new2
c"
}

@test "container: writes change only its layer; a second container does not see them; diff is exact" {
    before=$(tree "$CTRKIT_ROOT/layers/layer" | md5sum)
    run_tool unshare -m --propagation private bash -euc "
        layermount mount three:oci '$MNT' --container one >/dev/null
        mkdir -p '$MNT.2'
        layermount mount three:oci '$MNT.2' --container two >/dev/null
        echo changed > '$MNT/etc/hostname'
        rm '$MNT/etc/new2'
        echo added > '$MNT/data/added'
        rm -r '$MNT/bin'
        echo one: \$(cat '$MNT/etc/hostname')
        echo two: \$(cat '$MNT.2/etc/hostname') \$(ls '$MNT.2/etc' | tr '\n' ' ')
        layermount umount '$MNT'; layermount umount two"
    assert_contains "$output" "one: changed"
    assert_contains "$output" "two: base hard hostname link new2"
    # the read-only layers did not change
    assert_eq "$(tree "$CTRKIT_ROOT/layers/layer" | md5sum)" "$before"
    # the change is in container one's upper dir only
    assert_eq "$(cat "$CTRKIT_ROOT/layers/containers/one/upper/etc/hostname")" changed
    [ -z "$(ls -A "$CTRKIT_ROOT/layers/containers/two/upper")" ]
    run_tool layermount diff one
    assert_eq "$output" "D /bin
C /data
A /data/added
C /etc
C /etc/hostname
D /etc/new2"
    run_tool layermount diff one --json
    assert_json 'map(.kind + .path) | join(" ")' "D/bin C/data A/data/added C/etc C/etc/hostname D/etc/new2"
    run_tool layermount diff two
    assert_eq "$output" ""
}

@test "container: mounting the same ID again reuses its layer (restart)" {
    run_tool unshare -m --propagation private bash -euc "
        layermount mount three:oci '$MNT' --container again >/dev/null
        echo kept > '$MNT/data/state'
        layermount umount again
        layermount mount three:oci '$MNT' --container again >/dev/null
        cat '$MNT/data/state'
        layermount umount '$MNT'"
    assert_eq "$output" kept
    # with another image: refused
    run_tool --rc 1 layermount mount three:rootfs "$MNT" --container again
    assert_error layermount "container again already exists with image"
}

@test "commit: a fresh container sees the changes; the original image is unchanged" {
    run_tool unshare -m --propagation private bash -euc "
        layermount mount three:oci '$MNT' --container work >/dev/null
        echo committed > '$MNT/data/new'
        rm '$MNT/etc/hostname'
        mkdir '$MNT/data/sub'
        layermount umount work"
    run_tool layermount commit work --name three:committed -m 'add new, drop hostname'
    new_id=$output
    assert_match "$new_id" '^sha256:[0-9a-f]{64}$'
    run_tool layermount inspect three:committed --json
    assert_json '.layers | length' 4
    assert_json '.history[-1].comment' 'add new, drop hostname'
    run_tool unshare -m --propagation private bash -euc "
        mkdir -p '$MNT.f' '$MNT.o'
        layermount mount three:committed '$MNT.f' --container fresh >/dev/null
        layermount mount three:oci '$MNT.o' --container orig >/dev/null
        cat '$MNT.f/data/new'; ls '$MNT.f/etc' | tr '\n' ' '; echo; [ -d '$MNT.f/data/sub' ] && echo sub
        ls '$MNT.o/data' | tr '\n' ' '; echo; cat '$MNT.o/etc/hostname'
        layermount umount fresh; layermount umount orig"
    assert_eq "$output" "committed
hard link new2 
sub
c 
base"
    # the committed layer is an OCI layer again: whiteout as .wh. entry
    run_tool layermount save three:committed --format docker -o "$TEST_DIR/committed.tar"
    top=$(tar -xOf "$TEST_DIR/committed.tar" manifest.json | jq -r '.[0].Layers[-1]')
    tar -xOf "$TEST_DIR/committed.tar" "$top" | tar -t | LC_ALL=C sort >"$TEST_DIR/top.list"
    grep -qx 'etc/.wh.hostname' "$TEST_DIR/top.list"
    grep -qx 'data/new' "$TEST_DIR/top.list"
}

@test "export: the container's tar equals the tree seen at its mount point" {
    run_tool unshare -m --propagation private bash -euc "
        layermount mount three:oci '$MNT' --container exp >/dev/null
        echo x > '$MNT/data/x'; rm '$MNT/etc/link'
        cd '$MNT' && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort > '$TEST_DIR/mount.list'
        cd / && layermount umount exp"
    layermount export exp -o "$TEST_DIR/exp.tar"
    tar -tf "$TEST_DIR/exp.tar" | sed 's|/$||' | LC_ALL=C sort >"$TEST_DIR/export.list"
    diff -u "$TEST_DIR/mount.list" "$TEST_DIR/export.list"
    # an image exports too, via stdout
    layermount export three:oci | tar -t | sed 's|/$||' | LC_ALL=C sort >"$TEST_DIR/img.list"
    assert_eq "$(cat "$TEST_DIR/img.list")" "$EXPECTED_TREE"
}

@test "mount --readonly and --driver vfs" {
    run_tool unshare -m --propagation private bash -euc "
        layermount mount three:oci '$MNT' --container ro --readonly >/dev/null
        if touch '$MNT/data/nope' 2>/dev/null; then echo writable; else echo read-only; fi
        layermount umount ro
        layermount mount three:oci '$MNT' --container v --driver vfs >/dev/null
        findmnt -n -o FSTYPE '$MNT' | grep -vq overlay && echo not-overlay
        cd '$MNT' && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort
        cd / && echo hi > '$MNT/data/hi' && layermount umount v"
    assert_eq "$output" "read-only
not-overlay
$EXPECTED_TREE"
    [ "$(cat "$CTRKIT_ROOT/layers/containers/v/rootfs/data/hi")" = hi ]
}

@test "mount --mkdir makes a missing mount point (removed when the mount fails); --iidfile" {
    run_tool unshare -m --propagation private bash -euc "
        layermount mount three:oci '$TEST_DIR/new' --container mk --mkdir --iidfile '$TEST_DIR/iid' >/dev/null
        findmnt -n -o FSTYPE '$TEST_DIR/new'
        layermount umount mk"
    assert_eq "$output" overlay
    # --iidfile: the image's ID, as inspect shows it
    run_tool layermount inspect three:oci --json
    assert_eq "$(cat "$TEST_DIR/iid")" "$(jq -r .id <<<"$output")"
    run_tool --rc 1 layermount mount nosuch "$TEST_DIR/new2" --container mk2 --mkdir --iidfile "$TEST_DIR/iid2"
    assert_error layermount "nosuch"
    [ ! -e "$TEST_DIR/new2" ] && [ ! -e "$TEST_DIR/iid2" ]
    # without --mkdir a missing mount point is an error naming it
    run_tool --rc 1 layermount mount three:oci "$TEST_DIR/new3" --container mk3
    assert_error layermount "$TEST_DIR/new3"
    [ ! -e "$TEST_DIR/new3" ]
}

@test "mount --volatile: overlayfs volatile, the writes kept in the layer, which is not mounted again" {
    run_tool unshare -m --propagation private bash -euc "
        layermount mount three:oci '$TEST_DIR/vol' --container vol --mkdir --volatile >/dev/null
        findmnt -n -o OPTIONS '$TEST_DIR/vol'
        echo written >'$TEST_DIR/vol/data/new'
        layermount umount vol
        layermount mount three:oci '$TEST_DIR/plain' --container plain --mkdir >/dev/null
        findmnt -n -o OPTIONS '$TEST_DIR/plain'
        layermount umount plain
        CTRKIT_OVERLAY_LEGACY=1 layermount mount three:oci '$TEST_DIR/leg' --container leg --mkdir --volatile >/dev/null
        findmnt -n -o OPTIONS '$TEST_DIR/leg'
        layermount umount leg"
    # (shown as fsync=volatile since Linux 6.7)
    assert_match "${lines[0]}" '(^|,)(fsync=)?volatile(,|$)'
    [[ "${lines[1]}" != *volatile* ]]
    assert_match "${lines[2]}" '(^|,)(fsync=)?volatile(,|$)' # mount(2), for older kernels
    assert_eq "$(cat "$CTRKIT_ROOT/layers/containers/vol/upper/data/new")" written
    # the kernel refuses a volatile layer a second time: one line, and the layer stays
    run_tool --rc 1 unshare -m --propagation private \
        layermount mount three:oci "$TEST_DIR/vol" --container vol
    assert_error layermount "$TEST_DIR/vol"
    [ -d "$CTRKIT_ROOT/layers/containers/vol/upper" ]
    run_tool layermount rm-container vol
    run_tool layermount rm-container plain
    run_tool layermount rm-container leg
    [ ! -e "$CTRKIT_ROOT/layers/containers/vol" ]
    run_tool --rc 1 layermount mount three:oci "$TEST_DIR/vol" --container v2 --volatile --driver vfs
    assert_error layermount "--volatile needs the overlay driver"
    [ ! -e "$CTRKIT_ROOT/layers/containers/v2" ]
}

@test "inspect --json: the config defaults a launcher reads with jq" {
    run_tool layermount inspect three:oci --json
    assert_json '.config.Cmd | join(" ")' "/bin/sh -c echo hi"
    assert_json '.config.Entrypoint' null
    assert_json '.config.Env | join(",")' "PATH=/bin,A=1"
    assert_json '.config.WorkingDir' /data
    assert_json '.config.User' 1000:1000
    assert_json '.config.ExposedPorts | join(",")' 80/tcp
    assert_json '.config.Volumes | join(",")' /data
    assert_json '.layers | map(.diff_id) | join(",")' \
        "sha256:$(sha "$TEST_DIR/w/l1.tar"),sha256:$(sha "$TEST_DIR/w/l2.tar"),sha256:$(sha "$TEST_DIR/w/l3.tar")"
    assert_json '.history | map(.created_by) | join(",")' "layer 1,layer 2,layer 3"
    run_tool layermount inspect three:rootfs --json
    assert_json '.config.Cmd' null
    assert_json '.config.Env | length' 0
    run_tool layermount inspect three:oci
    assert_contains "$output" "WorkingDir:  /data"
}

@test "df: shared and unique bytes per image" {
    run_tool layermount df --json
    id=$(layermount inspect three:committed --json | jq -r .id)
    # three:committed shares the three layers of three:oci and has one of its own
    assert_json ".images[] | select(.id == \"$id\") | .shared > 0 and .unique > 0" true
    # 3 shared + the rootfs image's + the committed one
    assert_json '.layers' 5
}

@test "rm refuses an image a container uses, --force overrides; gc removes unreferenced layers" {
    layermount import "$TEST_DIR/rootfs.tar" --name victim >/dev/null
    run_tool unshare -m --propagation private bash -euc "layermount mount victim '$MNT' --container user >/dev/null; layermount umount user"
    run_tool --rc 1 layermount rm victim
    assert_error layermount "used by container user"
    layermount inspect victim --json >/dev/null
    layermount rm-container user
    [ ! -e "$CTRKIT_ROOT/layers/containers/user" ]
    run_tool layermount rm victim
    run_tool --rc 1 layermount inspect victim
    assert_error layermount "no such image: victim"
    # remove every image; gc then empties the layer store
    for i in $(layermount images --json | jq -r '.[].id'); do layermount rm --force "$i" >/dev/null; done
    run_tool layermount gc
    [ -n "$output" ]
    run_tool layermount layers --json
    assert_json length 0
    [ -z "$(ls -A "$CTRKIT_ROOT/layers/layer")" ]
    [ -z "$(ls -A "$CTRKIT_ROOT/layers/tmp")" ]
}

@test "concurrent imports sharing layers extract them once and both succeed" {
    mkdir -p "$TEST_DIR/par"
    make_oci_layout "$TEST_DIR/w" "$TEST_DIR/par/a"
    layermount -v import "$TEST_DIR/par/a" --name par:a 2>"$TEST_DIR/par/a.err" >"$TEST_DIR/par/a.out" &
    p1=$!
    layermount -v import "$TEST_DIR/docker.tar" --name par:b 2>"$TEST_DIR/par/b.err" >"$TEST_DIR/par/b.out" &
    p2=$!
    track_pid $p1 $p2
    wait $p1
    wait $p2
    assert_eq "$(cat "$TEST_DIR/par/a.out")" "$(cat "$TEST_DIR/par/b.out")"
    # each of the 3 layers was found in the store by exactly one of the two imports
    assert_eq "$(cat "$TEST_DIR/par/a.err" "$TEST_DIR/par/b.err" | grep -c 'already in the store')" 3
    run_tool layermount layers --json
    assert_json length 3
}

@test "bad input: one error line, exit status, nothing left in the store" {
    run_tool --rc 1 layermount import "$TEST_DIR/nope.tar"
    assert_error layermount "nope.tar"
    run_tool --rc 2 layermount import "$TEST_DIR/docker.tar" --name 'Bad Name'
    assert_error layermount "invalid image name 'Bad Name'"
    mkdir -p "$TEST_DIR/emptydir"
    run_tool --rc 1 layermount import "$TEST_DIR/emptydir"
    assert_error layermount "neither an OCI image layout"
    run_tool --rc 1 layermount mount no-such-image "$MNT" --container x
    assert_error layermount "no such image: no-such-image"
    run_tool --rc 2 layermount mount par:a "$MNT" --container 'bad/id'
    assert_error layermount "not a valid container name"
    run_tool --rc 1 layermount mount par:a "$TEST_DIR/missing-dir" --container x
    assert_error layermount "missing-dir"
    run_tool --rc 1 layermount diff no-such-container
    assert_error layermount "no such container: no-such-container"
    run_tool --rc 1 layermount umount "$MNT"
    assert_error layermount "not a mount point"
    [ ! -e "$CTRKIT_ROOT/layers/containers/x" ]
    [ -z "$(ls -A "$CTRKIT_ROOT/layers/tmp")" ]
}
