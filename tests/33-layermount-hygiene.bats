#!/usr/bin/env bats
# layermount and ctr-state: host-side hygiene. The store and the state folders are closed to
# other users (checked as user nobody), commit/export of a running container never follow a
# symlink the container swaps in, an archive cannot decompress past its size budget, and gc
# and ctr-state lock cope with what killed or racing runs leave.

load helpers
load 30-layermount-lib

NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

setup_file() {
    ctrkit_setup_file
    [ "$(id -u)" = 0 ] || return 0
    # a world-traversable place, so that only the store's own modes can stop nobody
    PUB=$(mktemp -d /tmp/ctrkit-hygiene.XXXXXX)
    chmod 0755 "$PUB"
    export PUB
    # an old store and state tree, made with loose modes: the tools must tighten them
    mkdir -p "$PUB/root/layers/layer" "$PUB/state/containers"
    chmod -R 0755 "$PUB/root" "$PUB/state"
    export CTRKIT_ROOT="$PUB/root" CTRKIT_STATE="$PUB/state"
    W="$TEST_DIR/w"
    make_layers "$W"
    make_oci_layout "$W" "$TEST_DIR/oci"
}

teardown_file() {
    [ -z "${PUB-}" ] || rm -rf "$PUB"
    ctrkit_teardown_file
}

setup() {
    require_root
    require_cmd setpriv
}

teardown() {
    ctrkit_teardown
    for c in $(layermount containers --json 2>/dev/null | jq -r '.[].id' 2>/dev/null); do
        layermount rm-container "$c" || true
    done
}

@test "perms: nobody can reach no setuid file, layer, upper or merged tree; state folders are 0700" {
    run_tool layermount -v import "$TEST_DIR/oci" --name hyg:one
    assert_contains "$stderr" "$PUB/root/layers: was mode 0755, now 0700"
    su=$(find "$CTRKIT_ROOT/layers/layer" -path '*/diff/bin/su')
    [ -n "$su" ] && [ -u "$su" ]
    run_tool env CTRKIT_DEBUG=1 ctr-state claim --parents "$CTRKIT_STATE/containers/web"
    assert_contains "$stderr" "$PUB/state: was mode 0755, now 0700"
    dir=$CTRKIT_STATE/containers/web
    run_tool unshare -m --propagation private bash -euc "
        layermount mount hyg:one '$dir/rootfs' --container web --mkdir >/dev/null
        echo x >'$dir/rootfs/data/written'
        # root sees everything (so what nobody is refused below is there)
        stat -c %a '$dir/rootfs/bin/su' '$su' '$CTRKIT_ROOT/layers/containers/web/upper/data/written'
        # nobody can reach the world-traversable parent, and nothing below
        ${NOBODY[*]} stat -c %a '$PUB' >/dev/null
        for p in '$su' '$dir/rootfs/bin/su' '$dir/rootfs' '$CTRKIT_ROOT/layers/containers/web/upper' \
            '$CTRKIT_ROOT/layers/containers/web/work' '$CTRKIT_ROOT/layers/layer' \
            '$(dirname "$su")' '$CTRKIT_ROOT/layers/l' '$CTRKIT_ROOT/layers/images'; do
            ! ${NOBODY[*]} stat \"\$p\" >/dev/null 2>&1 || echo \"nobody can stat \$p\"
            ! ${NOBODY[*]} ls \"\$p\" >/dev/null 2>&1 || echo \"nobody can list \$p\"
            ! ${NOBODY[*]} cat \"\$p\" >/dev/null 2>&1 || echo \"nobody can read \$p\"
        done
        layermount umount web"
    assert_eq "$output" "4755
4755
644"
    for d in "$CTRKIT_ROOT" "$CTRKIT_ROOT/layers" "$CTRKIT_ROOT/layers/layer" "$CTRKIT_ROOT/layers/containers" \
        "$CTRKIT_ROOT/layers/tmp" "$CTRKIT_STATE" "$CTRKIT_STATE/containers" "$dir"; do
        assert_eq "$(stat -c %a "$d")" 700 "$d"
    done
    # the store's records are 0600
    assert_eq "$(find "$CTRKIT_ROOT/layers" -name '*.json' ! -perm 0600 | head -3)" ""
}

@test "perms: a state folder is 0700 whatever the umask" {
    run_tool sh -c "umask 0; ctr-state claim --parents '$PUB/s/containers/x'"
    assert_eq "$(stat -c %a "$PUB/s/containers/x")" 700
    assert_eq "$(stat -c %a "$PUB/s/containers")" 700
    run_tool sh -c "umask 0; ctr-state claim '$PUB/s/y'"
    assert_eq "$(stat -c %a "$PUB/s/y")" 700
    run_tool "${NOBODY[@]}" stat "$PUB/s"
    run_tool --rc 2 "${NOBODY[@]}" ls "$PUB/s/y"
}

@test "gc: leftovers of killed runs in tmp/ are removed and never block the removal of a layer" {
    mkdir -p "$TEST_DIR/gc/etc"
    echo gc >"$TEST_DIR/gc/etc/only-here"
    tar --owner=0 --group=0 -C "$TEST_DIR/gc" -cf "$TEST_DIR/gc.tar" .
    hex=$(sha "$TEST_DIR/gc.tar")
    run_tool layermount import - --name hyg:gc <"$TEST_DIR/gc.tar"
    [ -d "$CTRKIT_ROOT/layers/layer/$hex/diff" ]
    tmp=$CTRKIT_ROOT/layers/tmp
    # what a run killed in the middle of removing this very layer, and of an import, leave
    mkdir -p "$tmp/rm-$hex/diff/etc" "$tmp/layer-99999-0/diff"
    echo half >"$tmp/rm-$hex/diff/etc/x"
    run_tool layermount rm hyg:gc
    run_tool layermount gc
    assert_contains "$output" "sha256:$hex"
    assert_eq "$(ls -A "$tmp")" ""
    [ ! -e "$CTRKIT_ROOT/layers/layer/$hex" ]
}

@test "ctr-state lock: a folder removed or replaced while waiting for the lock is an error" {
    d=$TEST_DIR/lockme
    mkdir -p "$d"
    flock "$d" sleep 1 &
    track_pid $!
    sleep 0.2
    run_tool --rc 1 sh -c "exec 9<'$d' && { (sleep 0.3; rmdir '$d'; mkdir '$d') & ctr-state lock 9 --path '$d'; }"
    assert_error ctr-state "file descriptor 9: $d was removed or replaced while waiting for the lock"
    # removed, no --path: the descriptor has no links left
    flock "$d" sleep 1 &
    track_pid $!
    sleep 0.2
    run_tool --rc 1 sh -c "exec 9<'$d' && { (sleep 0.3; rmdir '$d') & ctr-state lock 9; }"
    assert_error ctr-state "was removed or replaced"
    # still there: the lock is taken
    mkdir -p "$d"
    run_tool sh -c "exec 9<'$d' && ctr-state lock 9 --path '$d'"
}

# store_listing : every path in the store but the lock files, to compare before and after
store_listing() {
    find "$CTRKIT_ROOT/layers" -path "$CTRKIT_ROOT/layers/locks" -prune -o -print | LC_ALL=C sort
}

@test "import: a gzip bomb fails within its budget, naming the archive, and leaves nothing" {
    layermount import "$TEST_DIR/oci" --name hyg:base >/dev/null
    before=$(store_listing)
    # 1 GiB of zeros in 1 MiB of gzip, as a whole archive and as standard input
    head -c 1G /dev/zero | gzip -1 >"$TEST_DIR/bomb.gz"
    run_tool --rc 1 layermount import "$TEST_DIR/bomb.gz" --max-size 64M
    assert_error layermount "$TEST_DIR/bomb.gz: expands past the size budget of 64MiB (67108864 bytes"
    run_tool --rc 1 layermount import - --max-size 64M <"$TEST_DIR/bomb.gz"
    assert_error layermount "expands past the size budget of 64MiB"
    # as a layer of an OCI layout: a tar holding a 256 MiB file of zeros
    b=$TEST_DIR/bomblayer
    mkdir -p "$b/r"
    head -c 256M /dev/zero >"$b/r/zeros"
    tar --owner=0 --group=0 -C "$b/r" -cf "$b/l1.tar" .
    rm "$b/r/zeros"
    cp "$TEST_DIR/w/l2.tar" "$TEST_DIR/w/l3.tar" "$b/"
    make_oci_layout "$b" "$b/oci"
    run_tool --rc 1 layermount import "$b/oci" --max-size 64M
    assert_error layermount "$b/oci: layer 1/3"
    assert_contains "$stderr" "expands past the size budget of 64MiB"
    assert_eq "$(store_listing)" "$before"
    rm -rf "$b" "$TEST_DIR/bomb.gz"
}

@test "import: a huge sparse file counts at its full size (GNU and PAX sparse formats)" {
    before=$(store_listing)
    mkdir -p "$TEST_DIR/sp"
    truncate -s 2T "$TEST_DIR/sp/huge"
    echo data >"$TEST_DIR/sp/small"
    tar -S --format=gnu -C "$TEST_DIR/sp" -cf "$TEST_DIR/gnu.tar" .
    tar -S --format=posix --sparse-version=1.0 -C "$TEST_DIR/sp" -cf "$TEST_DIR/pax.tar" .
    for f in gnu pax; do
        # the default budget: the free space of the store's filesystem, less than 2 TiB here
        run_tool --rc 1 layermount import "$TEST_DIR/$f.tar"
        assert_error layermount "$TEST_DIR/$f.tar: rootfs: expands past the size budget of "
        run_tool --rc 1 layermount import "$TEST_DIR/$f.tar" --max-size 1T
        assert_error layermount "expands past the size budget of 1TiB"
    done
    assert_eq "$(store_listing)" "$before"
    # within the budget the file is made, sparse (PAX: GNU sparse entries are read hole by hole)
    run_tool layermount import "$TEST_DIR/pax.tar" --max-size 3T --name hyg:sparse
    huge=$(find "$CTRKIT_ROOT/layers/layer" -name huge)
    assert_eq "$(stat -c '%s %b' "$huge")" "2199023255552 0"
    layermount rm hyg:sparse >/dev/null
    layermount gc >/dev/null
}
