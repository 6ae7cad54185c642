#!/usr/bin/env bats
# Volumes and mounts as a Docker user writes them (issue 17): ctr-volume, named volumes in
# -v NAME:/path and --mount, Docker's copy-up, anonymous volumes from an image's VOLUME
# (removed by --rm and ctr-rm -v), -v options, a missing host folder or working directory
# made, --tmpfs options, --read-only-tmpfs, --shm-size -- each observed from outside the
# tools: the volume's folder on the host, /proc/mounts inside.

load helpers
load 60-ctr-helpers

setup_file() { ctr_setup_file; }
teardown_file() { ctr_teardown_file; }
teardown() { ctr_teardown; }
setup() { ctr_setup_host; }

vols() { echo "$CTRKIT_ROOT/volumes"; }

# volimage : the image 'volimg', busybox plus /data/seed, whose config says VOLUME /data
# (a docker-save archive made here with tar and jq, loaded once per file)
volimage() {
    in_host layermount inspect volimg >/dev/null 2>&1 && return 0
    local d=$TEST_DIR/volimg c h
    rm -rf "$d" && mkdir -p "$d/arch/l"
    make_busybox_rootfs "$d/rootfs"
    mkdir -p "$d/rootfs/data"
    echo seeded >"$d/rootfs/data/seed"
    tar --sort=name --owner=0 --group=0 -C "$d/rootfs" -cf "$d/arch/l/layer.tar" .
    h=$(sha256sum "$d/arch/l/layer.tar" | cut -d' ' -f1)
    jq -cn --arg h "sha256:$h" '{architecture:"amd64", os:"linux",
        config:{Cmd:["sh"], Volumes:{"/data":{}}}, rootfs:{type:"layers", diff_ids:[$h]}}' >"$d/arch/c.json"
    c=$(sha256sum "$d/arch/c.json" | cut -d' ' -f1)
    mv "$d/arch/c.json" "$d/arch/$c.json"
    jq -cn --arg c "$c.json" '[{Config:$c, RepoTags:["volimg:latest"], Layers:["l/layer.tar"]}]' >"$d/arch/manifest.json"
    tar -C "$d/arch" -cf "$d/volimg.tar" .
    in_host layermount import "$d/volimg.tar" >/dev/null
}

# anon_volumes : the anonymous volumes on the host, one a line
anon_volumes() {
    local f
    for f in "$(vols)"/*/anonymous; do [ -e "$f" ] && basename "$(dirname "$f")"; done
    return 0
}

@test "a named volume outlives its container, is shared by the next, and cannot be removed while used" {
    need_run
    run_host ctr-run --rm --network none -v v73a:/data busybox sh -c 'echo one >/data/f'
    no_leftovers none
    # made on first use, under $CTRKIT_ROOT/volumes, and still there
    assert_eq "$(cat "$(vols)/v73a/_data/f")" one
    run_host ctr-volume ls -q
    assert_eq "$output" v73a
    # the next container sees it; two at once share it
    run_host ctr-run -d --network none --name v73-w -v v73a:/data busybox \
        sh -c 'echo two >>/data/f; sleep 30'
    wait_for grep -q two "$(vols)/v73a/_data/f"
    run_host ctr-run --rm --network none -v v73a:/v busybox cat /v/f
    assert_eq "$output" "$(printf 'one\ntwo')"
    run_host --rc 1 ctr-volume rm v73a
    assert_error ctr-volume "volume v73a is in use by container v73-w"
    [ -d "$(vols)/v73a/_data" ]
    run_host ctr-volume inspect v73a
    assert_json '.[0].Mountpoint' "$(vols)/v73a/_data"
    assert_json '.[0].UsedBy | join(",")' v73-w
    run_host ctr-rm -f v73-w
    # kept by ctr-rm (even -v: a named volume), removed by ctr-volume rm once unused
    [ -d "$(vols)/v73a/_data" ]
    run_host ctr-volume rm v73a
    assert_eq "$output" v73a
    [ ! -e "$(vols)/v73a" ]
    run_host --rc 1 ctr-volume rm v73a
    assert_error ctr-volume "no such volume: v73a"
    run_host ctr-volume rm -f v73a
}

@test "copy-up: a new volume is filled from the image's files at its path; a used one is not" {
    need_run
    run_host ctr-run --rm --network none -v v73etc:/etc busybox cat /etc/passwd
    assert_contains "$output" "root:x:0:0"
    [ -f "$(vols)/v73etc/_data/passwd" ]
    # not empty any more: a second container sees what the first left, not the image's
    echo mine >"$(vols)/v73etc/_data/passwd"
    run_host ctr-run --rm --network none -v v73etc:/etc busybox cat /etc/passwd
    assert_eq "$output" mine
    # the volume's folder takes the owner and mode of the image's (/tmp 1777, /home/user 1000)
    run_host ctr-run --rm --network none -v v73tmp:/tmp -v v73home:/home/user busybox true
    assert_eq "$(stat -c %a "$(vols)/v73tmp/_data")" 1777
    assert_eq "$(stat -c %u:%g "$(vols)/v73home/_data")" 1000:1000
    # nocopy (--mount volume-nocopy): left empty
    run_host ctr-run --rm --network none --mount type=volume,src=v73nc,dst=/etc,volume-nocopy busybox ls -A /etc
    assert_eq "$output" ""
    # a path the image lacks: an empty volume, no error
    run_host ctr-run --rm --network none -v v73new:/not/in/image busybox ls -A /not/in/image
    assert_eq "$output" ""
    run_host ctr-volume rm v73etc v73nc v73new v73tmp v73home
    [ -z "$(find "$(vols)" -name '.copyup.*')" ]
}

@test "an image's VOLUME is an anonymous volume (copied up): --rm and ctr-rm -v remove it, ctr-rm keeps it" {
    need_run
    volimage
    run_host ctr-run --rm --network none volimg cat /data/seed
    assert_eq "$output" seeded
    assert_eq "$(anon_volumes)" ""
    run_host ctr-run --network none --name v73-keep volimg sh -c 'echo kept >/data/mine'
    a=$(anon_volumes)
    [[ "$a" =~ ^[0-9a-f]{64}$ ]]
    assert_eq "$(cat "$(vols)/$a/_data/seed")" seeded
    run_host ctr-rm v73-keep
    assert_eq "$(anon_volumes)" "$a"
    assert_eq "$(cat "$(vols)/$a/_data/mine")" kept
    run_host ctr-run --network none --name v73-rmv volimg true
    b=$(anon_volumes | grep -vx "$a")
    [ -n "$b" ]
    run_host ctr-rm -v v73-rmv
    assert_eq "$(anon_volumes)" "$a"
    # -v /path: anonymous too; -v NAME:/data in place of the image's VOLUME: no anonymous one
    run_host ctr-run --rm --network none -v /scratch busybox sh -c 'grep -c " /scratch " /proc/mounts'
    assert_eq "$output" 1
    run_host ctr-run --rm --network none -v v73named:/data volimg cat /data/seed
    assert_eq "$output" seeded
    assert_eq "$(anon_volumes)" "$a"
    # prune: the unused anonymous ones only (-a: named too)
    run_host ctr-volume prune
    assert_contains "$output" "$a"
    [ ! -e "$(vols)/$a" ] && [ -d "$(vols)/v73named" ]
    run_host ctr-volume prune -a
    [ ! -e "$(vols)/v73named" ]
    no_leftovers v73-keep
}

@test "-v: a missing host folder is made; ro, rw, z and propagation options; bad options refused" {
    need_run
    host=$TEST_DIR/made/by/v
    [ ! -e "$host" ]
    run_host ctr-run --rm --network none -v "$host:/m:rw,z" busybox sh -c 'echo in >/m/f'
    assert_eq "$(cat "$host/f")" in
    run_host --rc 1 ctr-run --rm --network none -v "$host:/m:ro" busybox sh -c 'echo x >/m/g'
    assert_contains "$stderr" "Read-only file system"
    [ ! -e "$host/g" ]
    run_host ctr-run --rm --network none -v "$host:/m:rshared" busybox grep ' /m ' /proc/self/mountinfo
    assert_contains "$output" "shared:"
    run_host --rc 125 ctr-run --rm --network none --name v73-bad -v "$host:/m:bogus" busybox true
    assert_error ctr-run "-v $host:/m:bogus: unknown option 'bogus'"
    run_host --rc 125 ctr-run --rm --network none --name v73-bad -v 'bad name:/m' busybox true
    assert_error ctr-run "-v bad name:/m"
    run_host --rc 125 ctr-run --rm --network none --name v73-bad -v v73x:rel busybox true
    assert_error ctr-run "not an absolute path"
    # refused for another flag: the folder is not made (nor a volume with options)
    run_host --rc 125 ctr-run --rm --network none --name v73-bad -v "$TEST_DIR/notmade:/m" \
        --mount type=volume,src=v73o,dst=/o,volume-opt=type=tmpfs --memory lots busybox true
    assert_error ctr-run "--memory lots"
    [ ! -e "$TEST_DIR/notmade" ] && [ ! -e "$(vols)/v73o" ]
    no_leftovers v73-bad
    [ ! -e "$(vols)/v73x" ]
}

@test "--mount: bind (ro, a missing source refused), volume with volume-opt, tmpfs with size and mode" {
    need_run
    mkdir -p "$TEST_DIR/mb"
    echo host >"$TEST_DIR/mb/f"
    run_host --rc 1 ctr-run --rm --network none --mount "type=bind,src=$TEST_DIR/mb,dst=/b,readonly" busybox \
        sh -c 'cat /b/f; echo x >/b/g'
    assert_eq "$output" host
    assert_contains "$stderr" "Read-only file system"
    [ ! -e "$TEST_DIR/mb/g" ]
    run_host --rc 125 ctr-run --rm --network none --name v73-mb --mount "type=bind,src=$TEST_DIR/nope,dst=/b" busybox true
    assert_error ctr-run "bind source path '$TEST_DIR/nope' does not exist"
    [ ! -e "$TEST_DIR/nope" ]
    no_leftovers v73-mb
    run_host ctr-run --rm --network none \
        --mount type=volume,src=v73t,dst=/vt,volume-opt=type=tmpfs,volume-opt=o=size=3m \
        --mount type=tmpfs,dst=/t,tmpfs-size=2m,tmpfs-mode=700 busybox grep -E ' /(vt|t) ' /proc/mounts
    assert_contains "$output" "tmpfs /vt tmpfs rw,nosuid,nodev,noexec,relatime,size=3072k"
    assert_contains "$output" "tmpfs /t tmpfs rw,nosuid,nodev,noexec,relatime,size=2048k,mode=700"
    run_host ctr-volume inspect v73t
    assert_json '.[0].Options.type' tmpfs
    run_host --rc 125 ctr-run --rm --network none --mount type=nfs,dst=/x busybox true
    assert_error ctr-run "--mount type=nfs,dst=/x: type=nfs not supported"
    run_host ctr-volume rm v73t
}

@test "--tmpfs keeps its options (default nosuid,nodev,noexec); -w makes a missing folder; --shm-size; --read-only-tmpfs" {
    need_run
    run_host ctr-run --rm --network none --tmpfs /run --tmpfs /x:exec,size=1m,mode=700,uid=5 busybox grep -E ' /(run|x) ' /proc/mounts
    assert_contains "$output" "tmpfs /run tmpfs rw,nosuid,nodev,noexec,relatime 0 0"
    assert_contains "$output" "tmpfs /x tmpfs rw,nosuid,nodev,relatime,size=1024k,mode=700,uid=5 0 0"
    run_host ctr-run --rm --network none -w /new/dir busybox pwd
    assert_eq "$output" /new/dir
    # (made before the root turns read-only, as Docker's)
    run_host ctr-run --rm --network none --read-only -w /other/dir busybox pwd
    assert_eq "$output" /other/dir
    run_host ctr-run --rm --network none --shm-size 2m busybox grep ' /dev/shm ' /proc/mounts
    assert_contains "$output" "size=2048k"
    run_host --rc 1 ctr-run --rm --network none --read-only --read-only-tmpfs busybox sh -c 'touch /tmp/a /run/a /var/tmp/a && echo ok; touch /a'
    assert_eq "$output" ok
    assert_contains "$stderr" "Read-only file system"
    run_host --rc 125 ctr-run --rm --network none --tmpfs /x:bogus busybox true
    assert_error ctr-run "--tmpfs /x:bogus: unknown tmpfs option 'bogus'"
    run_host --rc 125 ctr-run --rm --network none --shm-size lots busybox true
    assert_error ctr-run "--shm-size lots: want a size"
}

@test "ctr-volume create, ls (-q, --format json, --filter), inspect, options and labels; bad values refused" {
    need_run
    run_host ctr-volume create --label team=a v73c
    assert_eq "$output" v73c
    run_host ctr-volume create -o type=bind -o "device=$TEST_DIR" v73b
    run_host ctr-volume create
    anon=$output
    [[ "$anon" =~ ^[0-9a-f]{64}$ ]]
    run_host ctr-volume ls
    assert_contains "$output" "local     v73c"
    run_host ctr-volume ls -q --filter label=team=a
    assert_eq "$output" v73c
    run_host ctr-volume ls --format json --filter name=v73b
    assert_json '.Name' v73b
    assert_json '.Driver' local
    run_host ctr-volume inspect v73c v73b
    assert_json '.[0].Labels.team' a
    assert_json '.[1].Options.device' "$TEST_DIR"
    # a bind volume mounts its device
    echo bound >"$TEST_DIR/bv"
    run_host ctr-run --rm --network none -v v73b:/b busybox cat /b/bv
    assert_eq "$output" bound
    run_host --rc 2 ctr-volume create -o type=nfs v73n
    assert_error ctr-volume "--opt type=nfs: not supported"
    run_host --rc 2 ctr-volume create -o type=bind v73n
    assert_error ctr-volume "needs device="
    run_host --rc 2 ctr-volume create 'bad/name'
    assert_error ctr-volume "invalid volume name"
    [ ! -e "$(vols)/v73n" ]
    run_host --rc 1 ctr-volume inspect v73c nope
    assert_error ctr-volume "no such volume: nope"
    run_host ctr-volume rm v73c v73b "$anon"
    run_host ctr-volume ls -q
    assert_eq "$output" ""
}
