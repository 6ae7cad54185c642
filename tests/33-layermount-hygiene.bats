#!/usr/bin/env bats
# layermount and ctr-state: host-side hygiene. The store and the state folders are closed to
# other users (checked as user nobody), commit/export of a running container never follow a
# symlink the container swaps in, an archive cannot decompress past its size budget, and gc
# and ctr-state lock cope with what killed or racing runs leave.

load helpers
load 30-layermount-lib

NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

fail() {
    echo "$*" >&2
    return 1
}

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
    # the freeze test's cgroup, if it failed before removing it (its racer is gone by now)
    local fz=/sys/fs/cgroup/freezer/$TEST_CGROUP/frz
    if [ -d "$fz" ]; then
        echo THAWED >"$fz/freezer.state" || true
        rmdir "$fz" || true
    fi
    for c in $(layermount containers --json 2>/dev/null | jq -r '.[].id' 2>/dev/null); do
        layermount rm-container "$c" || true
    done
}

@test "perms: nobody can reach no setuid file, layer, upper or merged tree; state folders are 0700" {
    run_tool layermount -v import "$TEST_DIR/oci" --name hyg:one
    # shellcheck disable=SC2154 # run_tool sets stderr
    assert_contains "$stderr" "$PUB/root/layers: was mode 0755, now 0700"
    su=$(find "$CTRKIT_ROOT/layers/layer" -path '*/diff/bin/su')
    [ -n "$su" ]
    [ -u "$su" ]
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

# racer UPPER SECRET : play a running container that swaps 20 files of its upper layer
# between a regular file and a symlink to a host file with a secret (renames are atomic)
racer() {
    python3 - "$1" "$2" <<'PY' &
import os, sys
up, secret = sys.argv[1], sys.argv[2]
d = os.path.join(up, "race")
os.makedirs(d, exist_ok=True)
n = 0
while True:
    i = n % 20
    f = os.path.join(d, f"f{i}")
    t = os.path.join(d, f".t{i}")
    if (n // 20) % 2:
        with open(t, "w") as fh:
            fh.write("public\n")
    else:
        os.symlink(secret, t)
    os.rename(t, f)
    n += 1
PY
    RACER=$!
    track_pid "$RACER"
}

make_container() { # NAME : a container of hyg:race with its upper dir, not mounted
    layermount import "$TEST_DIR/oci" --name hyg:race >/dev/null
    unshare -m --propagation private bash -euc "
        mkdir -p '$TEST_DIR/mnt-$1'
        layermount mount hyg:race '$TEST_DIR/mnt-$1' --container $1 >/dev/null
        layermount umount $1"
}

@test "race: commit, export and diff never follow a symlink swapped into the upper layer" {
    require_cmd python3
    echo "SECRET-$$-host-only" >"$TEST_DIR/secret"
    mkdir -p "$TEST_DIR/hostdir" && echo "SECRET-$$-host-only" >"$TEST_DIR/hostdir/key"
    make_container racy
    up=$CTRKIT_ROOT/layers/containers/racy/upper
    # a folder of the container that is a symlink to a host folder: archived as a symlink
    ln -s "$TEST_DIR/hostdir" "$up/data2"
    # no cgroup recorded for it: nothing is frozen, the reads alone must hold
    racer "$up" "$TEST_DIR/secret"
    for i in $(seq 20); do
        id=$(layermount commit racy --name "hyg:c$i" 2>"$TEST_DIR/err") || fail "commit $i: $(cat "$TEST_DIR/err")"
        layermount save "hyg:c$i" -o "$TEST_DIR/c.tar"
        ! tar -xOf "$TEST_DIR/c.tar" | grep -a -q "SECRET-$$" || fail "commit $i: the secret is in the image"
        layermount export racy -o "$TEST_DIR/e.tar"
        ! grep -a -q "SECRET-$$" "$TEST_DIR/e.tar" || fail "export $i: the secret is in the tar"
        ! layermount diff racy | grep -q '^A /data2/key' || fail "diff $i: listed the host folder"
        layermount rm "hyg:c$i" >/dev/null
        [ -n "$id" ]
    done
    kill "$RACER"
    # the symlinks are archived as symlinks
    tar -tvf "$TEST_DIR/e.tar" | grep -q "data2 -> $TEST_DIR/hostdir"
    if tar -tf "$TEST_DIR/e.tar" | grep -q 'data2/key'; then fail "export followed data2"; fi
}

@test "freeze: commit and export freeze the container's cgroup and always thaw it" {
    require_cmd python3
    [ -d /sys/fs/cgroup/freezer ] || skip "no v1 freezer"
    cg=$TEST_CGROUP/frz
    fz=/sys/fs/cgroup/freezer/$cg
    mkdir -p "$fz"
    make_container frz
    up=$CTRKIT_ROOT/layers/containers/frz/upper
    echo "SECRET-$$-host-only" >"$TEST_DIR/secret"
    racer "$up" "$TEST_DIR/secret"
    echo "$RACER" >"$fz/cgroup.procs"
    mkdir -p "$CTRKIT_STATE/containers/frz"
    echo "$cg" >"$CTRKIT_STATE/containers/frz/cgroup"
    # an export held up (2 MiB into a pipe no one reads yet): frozen meanwhile
    head -c 2M /dev/urandom >"$up/big"
    layermount export frz | { while [ ! -e "$TEST_DIR/go" ]; do sleep 0.05; done; cat >"$TEST_DIR/e.tar"; } &
    exp=$!
    for _ in $(seq 100); do [ "$(cat "$fz/freezer.state")" = FROZEN ] && break; sleep 0.05; done
    assert_eq "$(cat "$fz/freezer.state")" FROZEN
    touch "$TEST_DIR/go"
    wait "$exp"
    assert_eq "$(cat "$fz/freezer.state")" THAWED
    # commit, and an export that fails after the freeze: thawed either way
    run_tool layermount -v commit frz --name hyg:frz
    assert_contains "$stderr" "froze cgroup $cg of container frz"
    assert_eq "$(cat "$fz/freezer.state")" THAWED
    run_tool --rc 1 layermount export frz -o "$TEST_DIR/no/such/dir/e.tar"
    assert_eq "$(cat "$fz/freezer.state")" THAWED
    # a container frozen before (ctr pause) stays frozen
    echo FROZEN >"$fz/freezer.state"
    run_tool layermount export frz -o "$TEST_DIR/e2.tar"
    assert_eq "$(cat "$fz/freezer.state")" FROZEN
    echo THAWED >"$fz/freezer.state"
    kill "$RACER"
    wait "$RACER" 2>/dev/null || true
    rmdir "$fz"
    if grep -a -q "SECRET-$$" "$TEST_DIR/e.tar" "$TEST_DIR/e2.tar"; then fail "the secret is in an export"; fi
}
