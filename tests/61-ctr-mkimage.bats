#!/usr/bin/env bats
# mkimage-busybox: the default image, as an OCI image layout checked with independent tools
# (sha256sum, tar, umoci), and imported into the layer store.

load helpers
load 60-ctr-helpers

setup_file() { ctr_setup_file; }
teardown_file() { ctr_teardown_file; }
teardown() { ctr_teardown; }

@test "mkimage-busybox -o writes a valid OCI layout from Debian's busybox-static" {
    out=$TEST_DIR/oci
    run_tool mkimage-busybox -o "$out"
    assert_eq "$output" "$out"
    assert_json .imageLayoutVersion 1.0.0 "$(cat "$out/oci-layout")"
    # every blob is named by its digest
    for b in "$out"/blobs/sha256/*; do
        assert_eq "$(sha256sum "$b" | cut -d' ' -f1)" "${b##*/}"
    done
    m=$(jq -r '.manifests[0].digest' "$out/index.json" | cut -d: -f2)
    manifest=$out/blobs/sha256/$m
    assert_eq "$(jq -r '.manifests[0].size' "$out/index.json")" "$(stat -c %s "$manifest")"
    config=$out/blobs/sha256/$(jq -r .config.digest "$manifest" | cut -d: -f2)
    layer=$out/blobs/sha256/$(jq -r '.layers[0].digest' "$manifest" | cut -d: -f2)
    assert_json '.config.Cmd | join(" ")' sh "$(cat "$config")"
    assert_json '.config.Env[0]' "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "$(cat "$config")"
    # the diff_id is the digest of the uncompressed layer
    assert_eq "$(jq -r '.rootfs.diff_ids[0]' "$config")" "sha256:$(gzip -dc "$layer" | sha256sum | cut -d' ' -f1)"
    # the root filesystem: busybox from the package, applets, users, /tmp 1777
    list=$(tar -tvzf "$layer")
    assert_match "$list" "-rwxr-xr-x 0/0 +[0-9]+ [^ ]+ [^ ]+ \./bin/busybox"
    assert_match "$list" "lrwxrwxrwx 0/0 +0 [^ ]+ [^ ]+ \./bin/sh -> /bin/busybox"
    assert_match "$list" "drwxrwxrwt 0/0 +0 [^ ]+ [^ ]+ \./tmp/"
    assert_match "$list" "drwxr-xr-x 1000/1000 +0 [^ ]+ [^ ]+ \./home/user/"
    passwd=$(tar -xzOf "$layer" ./etc/passwd)
    assert_contains "$passwd" "root:x:0:0:"
    assert_contains "$passwd" "user:x:1000:1000:"
    assert_contains "$passwd" "nobody:x:65534:65534:"
    assert_contains "$(jq -r '.history[0].created_by' "$config")" "Debian package busybox-static"
}

@test "the layout is reproducible and unpacks with umoci" {
    require_cmd umoci
    run_tool mkimage-busybox --busybox /bin/busybox -o "$TEST_DIR/a"
    run_tool mkimage-busybox --busybox /bin/busybox -o "$TEST_DIR/b"
    assert_eq "$(cat "$TEST_DIR/a/index.json")" "$(cat "$TEST_DIR/b/index.json")"
    run_tool umoci unpack --image "$TEST_DIR/a:latest" "$TEST_DIR/bundle"
    [ -x "$TEST_DIR/bundle/rootfs/bin/busybox" ]
    run_tool "$TEST_DIR/bundle/rootfs/bin/busybox" echo unpacked
    assert_eq "$output" unpacked
    rm -rf "$TEST_DIR/a" "$TEST_DIR/b" "$TEST_DIR/bundle"
}

@test "bad options: one line, exit 2, nothing made" {
    run_tool --rc 2 mkimage-busybox --busybox /no/such/file
    assert_error mkimage-busybox "--busybox /no/such/file: not an executable file"
    mkdir -p "$TEST_DIR/exists"
    run_tool --rc 2 mkimage-busybox -o "$TEST_DIR/exists"
    assert_error mkimage-busybox "already exists"
    run_tool --rc 1 mkimage-busybox --busybox /bin/true -o "$TEST_DIR/never"
    assert_error mkimage-busybox "is not statically linked"
    [ ! -e "$TEST_DIR/never" ]
}

@test "mkimage-busybox imports the image into the store as busybox" {
    require_root
    need layermount
    run_tool ctr-images --json
    assert_json '[.[] | tostring | test("busybox")] | any' true
    run_tool layermount inspect busybox --json
    assert_contains "$output" '"sh"'
}

@test "ctr-load imports an OCI layout under a name; ctr-images lists it; it runs" {
    need_run
    run_tool mkimage-busybox --busybox /bin/busybox -o "$TEST_DIR/loadme"
    run_tool ctr-load --name loaded:v1 "$TEST_DIR/loadme"
    assert_match "$output" '^sha256:[0-9a-f]{64}$'
    run_tool ctr-images --json
    assert_json '[.[] | tostring | test("loaded:v1")] | any' true
    run_tool ctr-run --rm --network none loaded:v1 echo from-loaded
    assert_eq "$output" from-loaded
    # (the wrappers tell layermount's one-line error as their own)
    run_tool --rc 1 ctr-load /no/such/archive
    assert_error ctr-load "/no/such/archive"
    rm -rf "$TEST_DIR/loadme"
}

@test "ctr-run makes the default image on first use, when the store has no busybox" {
    need_run
    export CTRKIT_ROOT=$TEST_DIR/fresh-root
    run_tool ctr-run --rm --network none busybox sh -c 'echo first-use'
    assert_eq "$output" first-use
    run_tool layermount inspect busybox --json
    assert_contains "$(printf '%s' "$output" | jq -r '.history[0].created_by')" "mkimage-busybox: busybox"
}
