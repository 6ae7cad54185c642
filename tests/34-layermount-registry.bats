#!/usr/bin/env bats
# layermount pull/push/tag/login against a real registry: Debian's docker-registry (the
# CNCF distribution registry) on a free 127.0.0.1 port, started and stopped by this file,
# filled by skopeo.

load helpers
load 30-layermount-lib
load 60-ctr-helpers

setup_file() {
    ctr_setup_file
    [ "$(id -u)" = 0 ] || return 0
    command -v docker-registry >/dev/null && command -v skopeo >/dev/null || return 0
    make_layers "$TEST_DIR/w"
    make_oci_layout "$TEST_DIR/w" "$TEST_DIR/oci"
    make_platform_index "$TEST_DIR/multi"
    start_registry "$TEST_DIR/reg"
    skopeo copy -q --dest-tls-verify=false "oci:$TEST_DIR/oci:latest" "docker://$REG/test/three:v1"
    skopeo copy -q --all --dest-tls-verify=false "oci:$TEST_DIR/multi:multi" "docker://$REG/test/multi:v1"
}

teardown_file() {
    for d in "$TEST_DIR"/reg*; do
        [ -d "$d" ] && stop_registry "$d"
    done
    ctr_teardown_file
}

setup() {
    require_root
    require_cmd docker-registry skopeo curl
    # a fresh store for every test
    export CTRKIT_ROOT="$TEST_DIR/root-$BATS_TEST_NUMBER"
}

teardown() {
    ctr_teardown
}

# push_busybox_image REF [FILE_CONTENT] : a busybox image with /hello, into the registry
# (imported into a store of its own, saved as an OCI archive, copied by skopeo)
push_busybox_image() {
    local w="$TEST_DIR/bb-$BATS_TEST_NUMBER"
    make_busybox_rootfs "$w/rootfs"
    echo "${2:-from the registry}" >"$w/rootfs/hello"
    tar -C "$w/rootfs" -cf "$w/rootfs.tar" .
    CTRKIT_ROOT="$w/store" layermount import "$w/rootfs.tar" --name bb:v1 >/dev/null
    CTRKIT_ROOT="$w/store" layermount save bb:v1 -o "$w/bb.tar"
    skopeo copy -q --dest-tls-verify=false "oci-archive:$w/bb.tar" "docker://$1"
    rm -rf "$w"
}

# manifest_digest REF : the digest of REF's manifest (or index), as the registry has it
manifest_digest() {
    skopeo inspect --raw --tls-verify=false "docker://$1" | sha256sum | cut -d' ' -f1
}

# file_of IMAGE PATH : PATH's content in IMAGE's flattened filesystem
file_of() {
    layermount export "$1" | tar -xO "./$2" 2>/dev/null || layermount export "$1" | tar -xO "$2"
}

@test "pull by tag: every layer arrives, whiteouts applied; the image ID is the config digest" {
    run_tool layermount pull -q "$REG/test/three:v1"
    id=$output
    cfg=$(skopeo inspect --raw --tls-verify=false "docker://$REG/test/three:v1" | jq -r .config.digest)
    assert_eq "$id" "$cfg"
    run_tool layermount images --json
    assert_json '.[0].names | join(",")' "$REG/test/three:v1"
    # the merged tree, whiteouts and the opaque directory applied
    got=$(layermount export "$REG/test/three:v1" | tar -t | sed 's|^\./||; s|/$||' | grep -v '^$' | LC_ALL=C sort)
    assert_eq "$got" "$EXPECTED_TREE"
    assert_eq "$(file_of "$REG/test/three:v1" data/c)" c
    # nothing left in the store's tmp/
    assert_eq "$(ls -A "$CTRKIT_ROOT/layers/tmp")" ""
}

@test "pull by digest: verified against the reference, named REPO@DIGEST" {
    d=$(manifest_digest "$REG/test/three:v1")
    run_tool layermount pull -q "$REG/test/three@sha256:$d"
    run_tool layermount images --json
    assert_json '.[0].names | join(",")' "$REG/test/three@sha256:$d"
    run_tool layermount inspect "$REG/test/three@sha256:$d" --json
    assert_json '.layers | length' 3
    # a digest the registry does not have: one line, exit 1
    run_tool --rc 1 layermount pull "$REG/test/three@sha256:$(printf '%064d' 0)"
    assert_error layermount "manifest unknown"
}

@test "a missing image: one line, exit 1, nothing left in the store" {
    run_tool --rc 1 layermount pull "$REG/test/nope:v1"
    assert_error layermount "no such image: $REG/test/nope:v1"
    run_tool --rc 1 layermount pull "$REG/test/three:nope"
    assert_error layermount "no such image"
    assert_eq "$(ls -A "$CTRKIT_ROOT/layers/layer" "$CTRKIT_ROOT/layers/images" "$CTRKIT_ROOT/layers/tmp" | grep -v ':$' | grep -v '^$' || true)" ""
    [ ! -e "$CTRKIT_ROOT/layers/refs.json" ]
    # a registry that is not there
    run_tool --rc 1 layermount pull "127.0.0.1:1/test/three:v1"
    assert_error layermount "cannot reach registry 127.0.0.1:1"
    # a malformed reference is a usage error
    run_tool --rc 2 layermount pull "Test/Three"
    assert_error layermount "invalid image reference"
}

@test "an index: amd64 here, arm64 with --platform linux/arm64 (checked by /arch); import of the index too" {
    [ "$(uname -m)" = x86_64 ] || skip "the default platform is checked on x86_64"
    run_tool layermount pull -q "$REG/test/multi:v1"
    assert_eq "$(file_of "$REG/test/multi:v1" arch)" amd64
    run_tool layermount inspect "$REG/test/multi:v1" --json
    assert_json '.architecture' amd64
    export CTRKIT_ROOT="$TEST_DIR/root-$BATS_TEST_NUMBER-arm"
    run_tool layermount pull -q --platform linux/arm64 "$REG/test/multi:v1"
    assert_eq "$(file_of "$REG/test/multi:v1" arch)" arm64
    run_tool layermount inspect "$REG/test/multi:v1" --json
    assert_json '.architecture' arm64
    # a platform the index lacks: named, with what it has
    run_tool --rc 1 layermount pull --platform linux/s390x "$REG/test/multi:v1"
    assert_error layermount "no image for linux/s390x (the index has: linux/amd64, linux/arm64/v8)"
    # import of the same OCI layout (an index in the index) picks by --platform as well
    run_tool layermount import "$TEST_DIR/multi" --name imp:amd
    assert_eq "$(file_of imp:amd arch)" amd64
    run_tool layermount import "$TEST_DIR/multi" --platform linux/arm64 --name imp:arm
    assert_eq "$(file_of imp:arm arch)" arm64
}

@test "layers already in the store are never fetched; a second pull fetches nothing" {
    r="$TEST_DIR/reg"
    layers=$(skopeo inspect --raw --tls-verify=false "docker://$REG/test/three:v1" | jq -r '.layers[].digest')
    first=$(echo "$layers" | head -1)
    before=$(blob_gets "$r" "$first")
    run_tool layermount pull -q "$REG/test/three:v1"
    assert_eq "$(blob_gets "$r" "$first")" "$((before + 1))"
    # the same layers under another name: the registry serves none of them again
    skopeo copy -q --dest-tls-verify=false "oci:$TEST_DIR/oci:latest" "docker://$REG/test/copy:v1"
    total() { for l in $layers; do blob_gets "$r" "$l"; done | paste -sd+ | bc; }
    t0=$(total)
    run_tool layermount pull -q "$REG/test/copy:v1"
    run_tool layermount pull -q "$REG/test/three:v1"
    assert_eq "$(total)" "$t0"
    run_tool layermount images --json
    assert_json 'length' 1
    assert_json '.[0].names | length' 2
}

@test "a pull cut off by the registry keeps the layers it completed; the next pull fetches only the rest" {
    r="$TEST_DIR/reg-cut"
    start_registry "$r"
    skopeo copy -q --dest-tls-verify=false "oci:$TEST_DIR/oci:latest" "docker://$REG/cut/three:v1"
    layers=$(skopeo inspect --raw --tls-verify=false "docker://$REG/cut/three:v1" | jq -r '.layers[].digest')
    last=$(echo "$layers" | tail -1)
    # the registry goes down; it comes back without the last layer's data
    stop_registry "$r"
    blob="$r/data/docker/registry/v2/blobs/sha256/${last:7:2}/${last#sha256:}/data"
    mv "$blob" "$TEST_DIR/saved-blob"
    start_registry "$r"
    run_tool --rc 1 layermount pull -q "$REG/cut/three:v1"
    assert_error layermount "layer 3/3"
    # the first two layers are in the store, the image is not, nothing half-made remains
    assert_eq "$(ls "$CTRKIT_ROOT/layers/layer" | wc -l)" 2
    assert_eq "$(ls -A "$CTRKIT_ROOT/layers/images" "$CTRKIT_ROOT/layers/tmp" | grep -v ':$' | grep -v '^$' || true)" ""
    run_tool --rc 1 layermount inspect "$REG/cut/three:v1"
    # back whole: the next pull fetches the last layer only
    stop_registry "$r"
    mv "$TEST_DIR/saved-blob" "$blob"
    start_registry "$r"
    for l in $layers; do eval "n_${l:7:12}=$(blob_gets "$r" "$l")"; done
    run_tool layermount pull -q "$REG/cut/three:v1"
    for l in $layers; do
        v="n_${l:7:12}"
        if [ "$l" = "$last" ]; then
            assert_eq "$(blob_gets "$r" "$l")" "$((${!v} + 1))" "the missing layer is fetched"
        else
            assert_eq "$(blob_gets "$r" "$l")" "${!v}" "a completed layer is not fetched again"
        fi
    done
    got=$(layermount export "$REG/cut/three:v1" | tar -t | sed 's|^\./||; s|/$||' | grep -v '^$' | LC_ALL=C sort)
    assert_eq "$got" "$EXPECTED_TREE"
    stop_registry "$r"
}

@test "a corrupted blob is refused by its digest and leaves no layer" {
    r="$TEST_DIR/reg-bad"
    start_registry "$r"
    skopeo copy -q --dest-tls-verify=false "oci:$TEST_DIR/oci:latest" "docker://$REG/bad/three:v1"
    first=$(skopeo inspect --raw --tls-verify=false "docker://$REG/bad/three:v1" | jq -r '.layers[0].digest')
    stop_registry "$r"
    # same length, other bytes: the registry serves it (it does not re-hash on read)
    blob="$r/data/docker/registry/v2/blobs/sha256/${first:7:2}/${first#sha256:}/data"
    python3 - "$blob" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[-9] ^= 0xff   # the gzip trailer's CRC: decompression may fail, the digest surely does
open(p, "wb").write(bytes(b))
PY
    start_registry "$r"
    run_tool --rc 1 layermount pull -q --jobs 1 "$REG/bad/three:v1"
    assert_error layermount "layer 1/3"
    assert_eq "$(ls -A "$CTRKIT_ROOT/layers/tmp")" ""
    [ ! -e "$CTRKIT_ROOT/layers/layer/$(skopeo inspect --config --tls-verify=false "docker://$REG/bad/three:v1" | jq -r '.rootfs.diff_ids[0]' | cut -d: -f2)" ]
    stop_registry "$r"
}

@test "ctr-run REF pulls a missing image by itself; --pull never refuses; --pull always fetches anew" {
    need_run
    push_busybox_image "$REG/test/bb:v1"
    run_tool ctr-run --rm --network none "$REG/test/bb:v1" cat /hello
    assert_eq "$output" "from the registry"
    run_tool layermount images --json
    assert_json '[.[].names[]] | index("'"$REG/test/bb:v1"'") != null' true
    # never: a missing image is the launcher's error, nothing pulled
    run_tool --rc 125 ctr-run --rm --network none --pull never "$REG/test/bb:v2" true
    assert_error ctr-run "image $REG/test/bb:v2"
    run_tool --rc 1 layermount inspect "$REG/test/bb:v2"
    # always: the tag moved in the registry; the run sees the new image
    push_busybox_image "$REG/test/bb:v1" "moved"
    run_tool ctr-run --rm --network none "$REG/test/bb:v1" cat /hello
    assert_eq "$output" "from the registry"
    run_tool ctr-run --rm --network none --pull always "$REG/test/bb:v1" cat /hello
    assert_eq "$output" "moved"
    run_tool --rc 125 ctr-run --rm --network none --pull sometimes "$REG/test/bb:v1" true
    assert_error ctr-run "--pull sometimes"
    no_leftovers none
}

@test "push then skopeo inspect, and a pull into a fresh store round-trips; tag names it for a registry" {
    # an image made here (imported): its layers are compressed and sent
    make_docker_archive "$TEST_DIR/w" "$TEST_DIR/docker-$BATS_TEST_NUMBER.tar"
    run_tool layermount import "$TEST_DIR/docker-$BATS_TEST_NUMBER.tar" --name local/three:v1
    run_tool layermount tag local/three:v1 "$REG/pushed/three:v1"
    run_tool layermount images --json
    assert_json '.[0].names | join(",")' "$REG/pushed/three:v1,local/three:v1"
    run_tool layermount push "$REG/pushed/three:v1"
    mdigest=$output
    assert_match "$mdigest" '^sha256:[0-9a-f]{64}$'
    run_tool skopeo inspect --tls-verify=false "docker://$REG/pushed/three:v1"
    assert_json '.Digest' "$mdigest"
    assert_json '.Layers | length' 3
    assert_json '.Env | join(" ")' "PATH=/bin A=1"
    # pushing again sends no layer: the registry has them all
    uploads() { grep -c '"PUT /v2/pushed/three/blobs/uploads/' "$TEST_DIR/reg/log" || true; }
    n=$(uploads)
    run_tool layermount push local/three:v1 "$REG/pushed/three:v1"
    assert_eq "$output" "$mdigest"
    assert_eq "$(uploads)" "$n"
    # a fresh store: the same tree and config
    export CTRKIT_ROOT="$TEST_DIR/root-$BATS_TEST_NUMBER-fresh"
    run_tool layermount pull -q "$REG/pushed/three:v1"
    got=$(layermount export "$REG/pushed/three:v1" | tar -t | sed 's|^\./||; s|/$||' | grep -v '^$' | LC_ALL=C sort)
    assert_eq "$got" "$EXPECTED_TREE"
    run_tool layermount inspect "$REG/pushed/three:v1" --json
    assert_json '.config.WorkingDir' /data
    # a pulled image pushed to another repository: its blobs are mounted, not sent, and keep
    # their digests (a store of its own: the layers were pulled from test/three only)
    export CTRKIT_ROOT="$TEST_DIR/root-$BATS_TEST_NUMBER-mount"
    run_tool layermount pull -q "$REG/test/three:v1"
    run_tool layermount push "$REG/test/three:v1" "$REG/mounted/three:v1"
    src=$(skopeo inspect --tls-verify=false "docker://$REG/test/three:v1" | jq -c .Layers)
    dst=$(skopeo inspect --tls-verify=false "docker://$REG/mounted/three:v1" | jq -c .Layers)
    assert_eq "$dst" "$src"
    assert_eq "$(grep -c '"PUT /v2/mounted/three/blobs/uploads/' "$TEST_DIR/reg/log" || true)" 1 "only the config is uploaded"
    assert_match "$(grep -c 'POST /v2/mounted/three/blobs/uploads/?mount=sha256:[0-9a-f]*&from=test/three HTTP/1.1" 201' "$TEST_DIR/reg/log")" '^3$'
    # errors: an unknown image, a digest as destination
    run_tool --rc 1 layermount push no/such:image "$REG/x/y:v1"
    assert_error layermount "no such image"
    run_tool --rc 2 layermount push local/three:v1 "$REG/x/y@sha256:$(printf '%064d' 0)"
    assert_error layermount "by TAG"
}

@test "basic auth (htpasswd registry): login writes auth.json; pull, push, docker config.json and credential helpers" {
    require_cmd htpasswd
    r="$TEST_DIR/reg-auth"
    htpasswd -Bbn alice 's3cret:x y' >"$TEST_DIR/htpasswd"
    start_registry "$r" "$TEST_DIR/htpasswd"
    skopeo copy -q --dest-tls-verify=false --dest-creds 'alice:s3cret:x y' "oci:$TEST_DIR/oci:latest" "docker://$REG/priv/three:v1"
    export REGISTRY_AUTH_FILE="$TEST_DIR/auth-$BATS_TEST_NUMBER.json" HOME="$TEST_DIR/home-$BATS_TEST_NUMBER"
    unset XDG_RUNTIME_DIR DOCKER_CONFIG
    # anonymous: refused in one line, nothing left in the store
    run_tool --rc 1 layermount pull -q "$REG/priv/three:v1"
    assert_error layermount "authentication required"
    assert_eq "$(ls -A "$CTRKIT_ROOT/layers/layer")" ""
    # a wrong password: refused, nothing written
    run_tool --rc 1 ctr-login -u alice -p wrong "$REG"
    assert_error ctr-login "login as alice refused"
    [ ! -e "$REGISTRY_AUTH_FILE" ]
    # the right one, on standard input
    run_tool bash -c "printf '%s\n' 's3cret:x y' | ctr-login -u alice --password-stdin '$REG'"
    assert_eq "$(stat -c %a "$REGISTRY_AUTH_FILE")" 600
    # skopeo reads what login wrote
    run_tool skopeo inspect --tls-verify=false --authfile "$REGISTRY_AUTH_FILE" "docker://$REG/priv/three:v1"
    run_tool layermount pull -q "$REG/priv/three:v1"
    run_tool ctr-push "$REG/priv/three:v1" "$REG/priv/copy:v1"
    run_tool skopeo inspect --tls-verify=false --creds 'alice:s3cret:x y' "docker://$REG/priv/copy:v1"
    assert_json '.Layers | length' 3
    # logout: refused again
    run_tool ctr-login --logout "$REG"
    assert_eq "$(jq -r --arg r "$REG" '.auths | has($r)' "$REGISTRY_AUTH_FILE")" false
    export CTRKIT_ROOT="$TEST_DIR/root-$BATS_TEST_NUMBER-2"
    run_tool --rc 1 layermount pull -q "$REG/priv/three:v1"
    assert_error layermount "authentication required"
    run_tool --rc 1 ctr-login --logout "$REG"
    assert_error ctr-login "not logged in to $REG"
    # --creds for one command
    run_tool --rc 1 layermount pull -q --creds 'alice:nope' "$REG/priv/three:v1"
    run_tool layermount pull -q --creds 'alice:s3cret:x y' "$REG/priv/three:v1"
    # docker's config.json, with an auth entry, then with a credential helper
    unset REGISTRY_AUTH_FILE
    export CTRKIT_ROOT="$TEST_DIR/root-$BATS_TEST_NUMBER-3"
    mkdir -p "$HOME/.docker" "$TEST_DIR/bin-$BATS_TEST_NUMBER"
    jq -n --arg r "$REG" --arg a "$(printf '%s' 'alice:s3cret:x y' | base64)" '{auths: {($r): {auth: $a}}}' >"$HOME/.docker/config.json"
    run_tool layermount pull -q "$REG/priv/three:v1"
    export CTRKIT_ROOT="$TEST_DIR/root-$BATS_TEST_NUMBER-4"
    cat >"$TEST_DIR/bin-$BATS_TEST_NUMBER/docker-credential-ctrkittest" <<'SH'
#!/bin/sh
read -r server
[ "$1" = get ] && [ "$server" = "$EXPECT_SERVER" ] || exit 1
echo '{"ServerURL":"'"$server"'","Username":"alice","Secret":"s3cret:x y"}'
SH
    chmod +x "$TEST_DIR/bin-$BATS_TEST_NUMBER/docker-credential-ctrkittest"
    jq -n --arg r "$REG" '{credHelpers: {($r): "ctrkittest"}}' >"$HOME/.docker/config.json"
    PATH="$TEST_DIR/bin-$BATS_TEST_NUMBER:$PATH" EXPECT_SERVER="$REG" run_tool layermount pull -q "$REG/priv/three:v1"
    stop_registry "$r"
}

# --- import fixes ---------------------------------------------------------------------------

@test "import: an in-layer absolute symlink (lib -> /usr/lib, then lib/libx.so) resolves in the layer, and runs" {
    need_run
    w="$TEST_DIR/abs-$BATS_TEST_NUMBER"
    make_busybox_rootfs "$w/rootfs"
    mkdir -p "$w/rootfs/usr/lib"
    ln -s /usr/lib "$w/rootfs/lib"
    tar -C "$w/rootfs" -cf "$w/rootfs.tar" .
    # an entry through the absolute symlink, as some image builders write
    python3 - "$w/rootfs.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "a") as t:
    data = b"libx\n"
    i = tarfile.TarInfo("./lib/libx.so"); i.size = len(data); i.mode = 0o644
    t.addfile(i, io.BytesIO(data))
PY
    run_tool layermount import "$w/rootfs.tar" --name abs:v1
    run_tool ctr-run --rm --network none abs:v1 sh -c 'cat /usr/lib/libx.so /lib/libx.so; readlink /lib'
    assert_eq "$output" "libx
libx
/usr/lib"
    # the host's /usr/lib got nothing
    [ ! -e /usr/lib/libx.so ]
    no_leftovers none
}

@test "import: a two-image docker save imports both, with every tag; a hardlinked layer member in a subdirectory" {
    d="$TEST_DIR/two-$BATS_TEST_NUMBER"
    make_docker_archive "$TEST_DIR/w" "$d.one.tar"
    mkdir -p "$d" && tar -C "$d" -xf "$d.one.tar"
    # image 2: layer 1 only, its tar a hardlink (in another folder) of image 1's layer 1
    l1=$(jq -r '.[0].Layers[0]' "$d/manifest.json")
    mkdir -p "$d/other"
    ln "$d/$l1" "$d/other/layer.tar"
    jq -cn --arg d "sha256:$(sha "$d/$l1")" '{architecture:"amd64", os:"linux", config:{Cmd:["/bin/true"]}, rootfs:{type:"layers", diff_ids:[$d]}}' >"$d/cfg2"
    c2=$(sha "$d/cfg2") && mv "$d/cfg2" "$d/$c2.json"
    jq --arg c "$c2.json" '. + [{Config:$c, RepoTags:["test/two:a","test/two:b"], Layers:["other/layer.tar"]}]' "$d/manifest.json" >"$d/m" && mv "$d/m" "$d/manifest.json"
    # (GNU tar writes the second name as a hardlink to the first, named from the archive's root)
    tar --sort=name -C "$d" -cf "$d.tar" .
    tar -tvf "$d.tar" | grep -q '^h.*other/layer.tar link to ' || { echo "fixture: other/layer.tar is not a hardlink" >&2; return 1; }
    run_tool layermount import "$d.tar"
    assert_eq "$(printf '%s\n' "$output" | grep -c '^sha256:')" 2
    run_tool layermount images --json
    assert_json 'length' 2
    assert_json '[.[].names[]] | sort | join(",")' "test/three:docker,test/two:a,test/two:b"
    run_tool layermount inspect test/two:b --json
    assert_json '.layers | length' 1
    # --name cannot name two images
    run_tool --rc 2 layermount import "$d.tar" --name x:y
    assert_error layermount "holds 2 images"
}

@test "import: aufs bookkeeping (.wh..wh.aufs, .wh..wh.plnk) is dropped; hardlinks into .wh..wh.plnk keep their content" {
    w="$TEST_DIR/aufs-$BATS_TEST_NUMBER"
    mkdir -p "$w"
    python3 - "$w/aufs.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT) as t:
    def add(name, data=None, kind=tarfile.REGTYPE, link=""):
        i = tarfile.TarInfo(name); i.type = kind; i.linkname = link
        i.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
        if data is not None:
            i.size = len(data)
        t.addfile(i, io.BytesIO(data) if data is not None else None)
    add(".wh..wh.aufs", b"")
    add(".wh..wh.orph/", kind=tarfile.DIRTYPE)
    add(".wh..wh.plnk/", kind=tarfile.DIRTYPE)
    add(".wh..wh.plnk/234.567", b"linked\n")
    add("etc/", kind=tarfile.DIRTYPE)
    add("etc/hl", kind=tarfile.LNKTYPE, link=".wh..wh.plnk/234.567")
    add("etc/plain", b"plain\n")
PY
    run_tool layermount import "$w/aufs.tar" --name aufs:v1
    got=$(layermount export aufs:v1 | tar -t | sed 's|^\./||; s|/$||' | grep -v '^$' | LC_ALL=C sort)
    assert_eq "$got" "etc
etc/hl
etc/plain"
    assert_eq "$(layermount export aufs:v1 | tar -xO etc/hl 2>/dev/null || layermount export aufs:v1 | tar -xO ./etc/hl)" linked
    [ -z "$(find "$CTRKIT_ROOT/layers/layer" -name '.wh..wh.*')" ]
}

@test "import: skopeo's dir: layout" {
    d="$TEST_DIR/dir-$BATS_TEST_NUMBER"
    skopeo copy -q "oci:$TEST_DIR/oci:latest" "dir:$d"
    [ -f "$d/version" ]
    run_tool layermount import "$d" --name fromdir:v1
    got=$(layermount export fromdir:v1 | tar -t | sed 's|^\./||; s|/$||' | grep -v '^$' | LC_ALL=C sort)
    assert_eq "$got" "$EXPECTED_TREE"
    # the same image as the OCI layout's: the same ID
    run_tool layermount import "$TEST_DIR/oci" --name fromoci:v1
    assert_eq "$(layermount inspect fromdir:v1 --json | jq -r .id)" "$(layermount inspect fromoci:v1 --json | jq -r .id)"
}

@test "a registry stopped halfway through a layer: the pull fails in one line, keeps the layers it completed, and the next pull completes it" {
    r="$TEST_DIR/reg-stop"
    w="$TEST_DIR/stop-$BATS_TEST_NUMBER"
    mkdir -p "$w/small" "$w/big"
    echo small >"$w/small/f"
    head -c 96M /dev/urandom >"$w/big/blob"
    make_oci_from_dirs "$w/oci" "$w/small" "$w/big"
    rm -rf "$w/small" "$w/big"
    start_registry "$r"
    skopeo copy -q --dest-tls-verify=false "oci:$w/oci:latest" "docker://$REG/stop/two:v1"
    rm -rf "$w/oci"
    layers=$(skopeo inspect --raw --tls-verify=false "docker://$REG/stop/two:v1" | jq -r '.layers[].digest')
    small=$(echo "$layers" | head -1) big=$(echo "$layers" | tail -1)
    # one layer at a time: the small one completes, then the registry stops while the big one
    # streams (SIGSTOP as soon as its extraction starts, then SIGKILL: the connection drops)
    layermount pull -q --jobs 1 "$REG/stop/two:v1" >"$w/out" 2>"$w/err" &
    pull=$!
    i=0
    until [ "$(ls "$CTRKIT_ROOT/layers/layer" 2>/dev/null | wc -l)" = 1 ] && ls "$CTRKIT_ROOT/layers/tmp" 2>/dev/null | grep -q '^layer-'; do
        i=$((i + 1))
        [ $i -lt 2000 ] && [ -d "/proc/$pull" ] || break
        sleep 0.005
    done
    kill -STOP "$(cat "$r/pid")"
    kill -KILL "$(cat "$r/pid")"
    rc=0
    wait "$pull" || rc=$?
    rm -f "$r/pid"
    assert_eq "$rc" 1 "the pull fails: $(cat "$w/err")"
    stderr=$(cat "$w/err")
    assert_error layermount "layer 2/2"
    assert_eq "$(ls "$CTRKIT_ROOT/layers/layer" | wc -l)" 1 "the small layer is kept"
    assert_eq "$(find "$CTRKIT_ROOT/layers/tmp" "$CTRKIT_ROOT/layers/images" -mindepth 1 | wc -l)" 0 "nothing half-made, no image"
    # back up: only the big layer is fetched
    start_registry "$r"
    s0=$(blob_gets "$r" "$small") b0=$(blob_gets "$r" "$big")
    run_tool layermount pull -q "$REG/stop/two:v1"
    assert_eq "$(blob_gets "$r" "$small")" "$s0"
    assert_eq "$(blob_gets "$r" "$big")" "$((b0 + 1))"
    assert_eq "$(file_of "$REG/stop/two:v1" f)" small
    stop_registry "$r"
}

@test "registries.conf mirrors: tried first; the registry itself when they fail; blocked registries refused" {
    conf="$TEST_DIR/registries-$BATS_TEST_NUMBER.conf"
    skopeo copy -q --dest-tls-verify=false "oci:$TEST_DIR/oci:latest" "docker://$REG/mirror/test/three:v1"
    # mirrored.invalid does not exist: only the mirror can answer
    cat >"$conf" <<CONF
unqualified-search-registries = ["docker.io"]

[[registry]]
prefix = "mirrored.invalid"
location = "mirrored.invalid"

[[registry.mirror]]
location = "127.0.0.1:1/nothing-here"

[[registry.mirror]]
location = "$REG/mirror"
insecure = true

[[registry]]
prefix = "$REG/fallback"
location = "$REG/test"

[[registry.mirror]]
location = "$REG/empty-mirror"

[[registry]]
prefix = "$REG/blocked"
blocked = true
CONF
    export CONTAINERS_REGISTRIES_CONF=$conf
    before=$(grep -c '"GET /v2/mirror/test/three/manifests/v1 ' "$TEST_DIR/reg/log" || true)
    run_tool layermount pull -q mirrored.invalid/test/three:v1
    assert_eq "$(grep -c '"GET /v2/mirror/test/three/manifests/v1 ' "$TEST_DIR/reg/log")" "$((before + 1))"
    run_tool layermount images --json
    assert_json '.[0].names | join(",")' "mirrored.invalid/test/three:v1"
    # a mirror without the image: the registry's own location ($REG/fallback is $REG/test)
    n=$(grep -c '"GET /v2/empty-mirror/three/manifests/v1 ' "$TEST_DIR/reg/log" || true)
    run_tool layermount pull -q "$REG/fallback/three:v1"
    assert_eq "$(grep -c '"GET /v2/empty-mirror/three/manifests/v1 ' "$TEST_DIR/reg/log")" "$((n + 1))" "the mirror was asked first"
    assert_eq "$(file_of "$REG/fallback/three:v1" data/c)" c
    run_tool --rc 1 layermount pull -q "$REG/blocked/x:v1"
    assert_error layermount "is blocked in $conf"
}

@test "Bearer tokens (as Docker Hub): the challenge's realm gives a token for the credentials and the repository's scope" {
    require_cmd python3
    t="$TEST_DIR/token-$BATS_TEST_NUMBER"
    mkdir -p "$t"
    python3 "$BATS_TEST_DIRNAME/34-token-proxy.py" "$t/port" "$REG" 'bob:t0ken pw' "$t/log" 3>&- &
    track_pid $!
    wait_for_file "$t/port"
    front="127.0.0.1:$(cat "$t/port")"
    # anonymous: the realm refuses, one line
    run_tool --rc 1 layermount pull -q "$front/test/three:v1"
    assert_error layermount "authentication failed at http://$front/token"
    # with credentials: a token for repository:test/three:pull, then the image
    run_tool layermount pull -q --creds 'bob:t0ken pw' "$front/test/three:v1"
    grep -q "^token user=bob service=ctrkit-test scope=repository:test/three:pull" "$t/log" || { cat "$t/log" >&2; return 1; }
    got=$(layermount export "$front/test/three:v1" | tar -t | sed 's|^\./||; s|/$||' | grep -v '^$' | LC_ALL=C sort)
    assert_eq "$got" "$EXPECTED_TREE"
    # an index through the same front, by platform
    run_tool layermount pull -q --creds 'bob:t0ken pw' --platform linux/arm64 "$front/test/multi:v1"
    assert_eq "$(file_of "$front/test/multi:v1" arch)" arm64
}

@test "TLS: certificates are checked against the system's roots; a loopback registry may be self-signed unless --tls-verify" {
    require_cmd openssl
    r="$TEST_DIR/reg-tls"
    mkdir -p "$r"
    # a test CA, and the registry's certificate signed by it
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ctrkit-test-ca \
        -keyout "$r/ca-key.pem" -out "$r/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$r/key.pem" -out "$r/req.pem" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$r/ext"
    openssl x509 -req -in "$r/req.pem" -CA "$r/ca.pem" -CAkey "$r/ca-key.pem" -CAcreateserial \
        -days 2 -extfile "$r/ext" -out "$r/cert.pem" 2>/dev/null
    start_registry "$r"
    skopeo copy -q --dest-tls-verify=false "oci:$TEST_DIR/oci:latest" "docker://$REG/tls/three:v1"
    # the registry speaks only HTTPS: plain HTTP is refused by it
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$REG/v2/")" = 400 ]
    # loopback, by default: HTTPS without a trusted certificate is accepted (as Docker does)
    run_tool layermount pull -q "$REG/tls/three:v1"
    # --tls-verify: the self-signed certificate is not among the system's roots
    export CTRKIT_ROOT="$TEST_DIR/root-$BATS_TEST_NUMBER-2"
    run_tool --rc 1 layermount pull -q --tls-verify "$REG/tls/three:v1"
    assert_error layermount "cannot reach registry $REG"
    assert_contains "$stderr" "certificate"
    # ... its CA is once the system's roots include it (SSL_CERT_FILE, as OpenSSL reads it)
    SSL_CERT_FILE="$r/ca.pem" run_tool layermount pull -q --tls-verify "$REG/tls/three:v1"
    got=$(layermount export "$REG/tls/three:v1" | tar -t | sed 's|^\./||; s|/$||' | grep -v '^$' | LC_ALL=C sort)
    assert_eq "$got" "$EXPECTED_TREE"
    stop_registry "$r"
}

@test "save writes the original layer tars: a saved image re-imports with the same ID, and re-pushes with the same config" {
    d="$TEST_DIR/save-$BATS_TEST_NUMBER"
    mkdir -p "$d"
    make_docker_archive "$TEST_DIR/w" "$d/in.tar"
    run_tool layermount import "$d/in.tar"
    id=$output
    for f in oci docker; do
        run_tool layermount save test/three:docker --format "$f" -o "$d/out-$f.tar"
        CTRKIT_ROOT="$d/store-$f" run_tool layermount import "$d/out-$f.tar"
        assert_eq "$output" "$id" "re-imported from the $f archive"
    done
    # the docker archive's layer tars are the imported ones, byte for byte
    mkdir -p "$d/x" && tar -C "$d/x" -xf "$d/out-docker.tar"
    assert_eq "$(cd "$d/x" && jq -r '.[0].Layers[]' manifest.json | xargs sha256sum | cut -d' ' -f1 | paste -sd,)" \
        "$(cd "$TEST_DIR/w" && sha256sum l1.tar l2.tar l3.tar | cut -d' ' -f1 | paste -sd,)"
    # a pulled image pushed elsewhere: the same config, so the same image ID there
    run_tool layermount pull -q "$REG/test/three:v1"
    pulled=$output
    run_tool layermount push "$REG/test/three:v1" "$REG/again/three:v1"
    assert_eq "$(skopeo inspect --raw --tls-verify=false "docker://$REG/again/three:v1" | jq -r .config.digest)" "$pulled"
    # a layer whose files changed since (not possible through layermount; by hand here)
    # is written anew from its files, and the image gets new diff_ids
    f=$(find "$CTRKIT_ROOT/layers/layer" -path '*/diff/data/c' | head -1)
    [ -n "$f" ] && echo changed >"$f"
    run_tool layermount save test/three:docker -o "$d/changed.tar"
    CTRKIT_ROOT="$d/store-changed" run_tool layermount import "$d/changed.tar"
    [ "$output" != "$id" ]
}

@test "progress: a bar per layer on a terminal (layers in the store say so); none with -q or off a terminal" {
    require_cmd script
    run_tool layermount pull "$REG/test/three:v1"
    assert_eq "$stderr" "" "not a terminal: quiet"
    digests=$(skopeo inspect --raw --tls-verify=false "docker://$REG/test/three:v1" | jq -r '.layers[].digest')
    export CTRKIT_ROOT="$TEST_DIR/root-$BATS_TEST_NUMBER-tty"
    run_tool script -qec "layermount pull '$REG/test/three:v1'" /dev/null
    for d in $digests; do
        assert_match "$output" "${d:7:12} \([1-3]/3\) +done +\["
    done
    # again: every layer is there already (only the name is set, no bars)
    run_tool layermount rm "$REG/test/three:v1"
    run_tool script -qec "layermount pull '$REG/test/multi:v1' && layermount pull '$REG/test/three:v1'" /dev/null
    for d in $digests; do
        assert_match "$output" "${d:7:12} \([1-3]/3\) +exists"
    done
    export CTRKIT_ROOT="$TEST_DIR/root-$BATS_TEST_NUMBER-quiet"
    run_tool script -qec "layermount pull -q '$REG/test/three:v1'" /dev/null
    assert_match "$output" '^sha256:[0-9a-f]{64}'
    [[ "$output" != *"done"* ]] && [[ "$output" != *"["* ]]
}
