#!/usr/bin/env bats
# layermount: hostile archives. Each case is refused (or neutralised) with a clear message,
# a canary file outside the store is untouched, nothing is created outside, and the store
# keeps no layer and no temporary files.

load helpers
load 30-layermount-lib

setup_file() {
    ctrkit_setup_file
    export OUT="$TEST_DIR/outside"
    mkdir -p "$OUT"
    echo canary >"$OUT/canary"
    touch -d @1400000000 "$OUT/canary"
    export CANARY_STATE
    CANARY_STATE=$(stat -c '%s %Y %i' "$OUT/canary")
}

setup() {
    require_root
    require_cmd python3
}

# hostile CASE OUT.tar : write a single-layer tar for CASE with python's tarfile (it writes
# whatever names it is given)
hostile() {
    python3 - "$1" "$2" "$OUT" <<'EOF'
import io, sys, tarfile
case, path, out = sys.argv[1:4]
up = "../" * 12
t = tarfile.open(path, "w", format=tarfile.PAX_FORMAT)
def f(name, data=b"pwned"):
    i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
def d(name):
    i = tarfile.TarInfo(name); i.type = tarfile.DIRTYPE; i.mode = 0o755; t.addfile(i)
def sym(name, target):
    i = tarfile.TarInfo(name); i.type = tarfile.SYMTYPE; i.linkname = target; t.addfile(i)
def hard(name, target):
    i = tarfile.TarInfo(name); i.type = tarfile.LNKTYPE; i.linkname = target; t.addfile(i)
f("ok")  # something harmless first, so a refusal happens mid-archive
if case == "dotdot": f(up + out.lstrip("/") + "/pwned")
elif case == "absolute": f(out + "/pwned")
elif case == "symlink-abs": sym("evil", out); f("evil/pwned")
elif case == "symlink-rel": sym("evil", up + out.lstrip("/")); f("evil/pwned")
elif case == "symlink-chain": sym("a", "b"); sym("b", out); f("a/pwned")
elif case == "symlink-swap": d("dir"); sym("dir", out); f("dir/pwned")
elif case == "hardlink-dotdot": hard("hl", up + out.lstrip("/") + "/canary")
elif case == "hardlink-abs": hard("hl", out + "/canary")
elif case == "hardlink-via-symlink": sym("s", out); hard("hl", "s/canary")
elif case == "whiteout-dotdot": f(".wh..")
elif case == "whiteout-dotdot-sub": d("sub"); f("sub/.wh..")
elif case == "dup-symlink-file": sym("f", out + "/canary"); f("f")
t.close()
EOF
}

canary_untouched() {
    assert_eq "$(stat -c '%s %Y %i' "$OUT/canary")" "$CANARY_STATE" "canary metadata"
    assert_eq "$(cat "$OUT/canary")" canary "canary content"
    assert_eq "$(ls -A "$OUT")" canary "nothing created outside"
}

store_unchanged() {
    run_tool layermount layers --json
    assert_json length 0
    assert_eq "$(ls -A "$CTRKIT_ROOT/layers/tmp")" "" "no temporary files left"
    assert_eq "$(ls -A "$CTRKIT_ROOT/layers/layer")" "" "no layer directories"
}

refused() { # CASE MESSAGE
    hostile "$1" "$TEST_DIR/$1.tar"
    run_tool --rc 1 layermount import "$TEST_DIR/$1.tar"
    assert_error layermount "$2"
    assert_contains "$stderr" "refused"
    canary_untouched
    store_unchanged
}

@test "hostile: an entry with '..' components is refused" {
    refused dotdot "path has a '..' component"
}

@test "hostile: an absolute entry name is refused" {
    refused absolute "absolute path"
}

# (a symlink is resolved inside the layer, as RESOLVE_IN_ROOT does: one pointing out leads to
# a directory the layer lacks, so the entry through it is refused and nothing outside changes)
@test "hostile: a symlink pointing out (absolute), then an entry through it, is refused" {
    refused symlink-abs "through a symlink that does not lead to a directory in the layer"
}

@test "hostile: a symlink pointing out (relative ..), then an entry through it, is refused" {
    refused symlink-rel "through a symlink that does not lead to a directory in the layer"
}

@test "hostile: a chain of symlinks pointing out is refused" {
    refused symlink-chain "through a symlink that does not lead to a directory in the layer"
}

@test "hostile: a directory replaced by a symlink out, then an entry through it, is refused" {
    refused symlink-swap "through a symlink that does not lead to a directory in the layer"
}

@test "hostile: a hardlink to an outside target via '..' is refused" {
    refused hardlink-dotdot "hardlink target: path has a '..' component"
}

@test "hostile: a hardlink to an absolute outside target is refused" {
    refused hardlink-abs "hardlink target: absolute path"
}

@test "hostile: a hardlink through a symlink that points out is refused" {
    refused hardlink-via-symlink "hardlink target is not in this layer"
}

@test "hostile: whiteouts naming '..' are refused" {
    refused whiteout-dotdot "whiteout names '.' or '..'"
    refused whiteout-dotdot-sub "whiteout names '.' or '..'"
}

@test "hostile: a duplicate entry replacing a symlink by a file is neutralised (writes the layer, not the target)" {
    hostile dup-symlink-file "$TEST_DIR/dup.tar"
    run_tool layermount import "$TEST_DIR/dup.tar" --name dup
    canary_untouched
    f=$(find "$CTRKIT_ROOT/layers/layer" -path '*/diff/f')
    [ -f "$f" ] && [ ! -L "$f" ]
    assert_eq "$(cat "$f")" pwned
    layermount rm dup >/dev/null
    layermount gc >/dev/null
    store_unchanged
}

@test "a blob whose digest does not match is refused; the store is unchanged" {
    W="$TEST_DIR/w1"
    make_layers "$W"
    make_oci_layout "$W" "$TEST_DIR/oci-bad"
    # append a byte to the uncompressed layer blob: its name no longer matches its content
    blob=$(jq -r '.layers[2].digest' "$TEST_DIR/oci-bad/blobs/sha256/$(jq -r '.manifests[0].digest' "$TEST_DIR/oci-bad/index.json" | cut -d: -f2)" | cut -d: -f2)
    printf '\0' >>"$TEST_DIR/oci-bad/blobs/sha256/$blob"
    run_tool --rc 1 layermount import "$TEST_DIR/oci-bad"
    assert_error layermount "digest mismatch: expected sha256:$blob"
    store_unchanged
    canary_untouched
}

@test "a layer whose diff_id does not match the config is refused; the store is unchanged" {
    W="$TEST_DIR/w2"
    make_layers "$W"
    # l1 is replaced by other content after its diff_id went into the config
    make_docker_archive "$W" "$TEST_DIR/good.tar"
    mkdir -p "$TEST_DIR/bad-docker"
    tar -C "$TEST_DIR/bad-docker" -xf "$TEST_DIR/good.tar"
    l1=$(jq -r '.[0].Layers[0]' "$TEST_DIR/bad-docker/manifest.json")
    cp "$W/l2.tar" "$TEST_DIR/bad-docker/$l1"
    run_tool --rc 1 layermount import "$TEST_DIR/bad-docker"
    assert_error layermount "diff_id: digest mismatch"
    store_unchanged
}

@test "truncated archives are refused; the store is unchanged" {
    W="$TEST_DIR/w3"
    make_layers "$W"
    head -c 10000000 /dev/urandom >"$W/l1/big"
    tar -C "$W/l1" -cf "$TEST_DIR/big.tar" .
    head -c 5000000 "$TEST_DIR/big.tar" >"$TEST_DIR/cut.tar"
    run_tool --rc 1 layermount import "$TEST_DIR/cut.tar"
    assert_error layermount "cut.tar"
    store_unchanged
    gzip -c "$TEST_DIR/big.tar" | head -c 5000000 >"$TEST_DIR/cut.tar.gz"
    run_tool --rc 1 layermount import "$TEST_DIR/cut.tar.gz"
    assert_error layermount "cut.tar.gz"
    store_unchanged
}

@test "a full disk is a clear error; the store is unchanged and a retry with room succeeds" {
    head -c 8000000 /dev/urandom >"$TEST_DIR/big.bin"
    tar -C "$TEST_DIR" -cf "$TEST_DIR/big8.tar" big.bin
    mkdir -p "$TEST_DIR/small"
    run_tool --rc any unshare -m --propagation private bash -c "
        mount -t tmpfs -o size=4m tmpfs '$TEST_DIR/small'
        # a budget past the disk's size: the disk itself runs out (the default budget, the
        # free space, refuses earlier: tests/33)
        CTRKIT_ROOT='$TEST_DIR/small' layermount import '$TEST_DIR/big8.tar' --max-size 1G; echo rc=\$?
        ls -A '$TEST_DIR/small/layers/layer' '$TEST_DIR/small/layers/tmp' | grep -v '^\$' | grep -v ':\$' || echo empty
        umount '$TEST_DIR/small'"
    assert_contains "$output" "rc=1"
    assert_contains "$output" "empty"
    assert_contains "$stderr" "No space left on device"
    run_tool layermount import "$TEST_DIR/big8.tar" --name big
    layermount rm big >/dev/null
    layermount gc >/dev/null
}
