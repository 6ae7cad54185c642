# 30-layermount-lib.bash - builds test images for the layermount bats files with tar,
# sha256sum, gzip, zstd and jq only (no code shared with layermount).
# shellcheck shell=bash

sha() { sha256sum "$1" | cut -d' ' -f1; }

# make_layers DIR : three layer trees and their tars in DIR
#   l1: etc/hostname, etc/gone, data/{a,b}, bin/su (setuid), etc/link -> hostname, etc/hard (hardlink)
#   l2: deletes etc/gone (.wh.gone), adds etc/new2
#   l3: replaces data/ opaquely (.wh..wh..opq, written AFTER data/c in the archive) with data/c
make_layers() {
    local d=$1
    mkdir -p "$d/l1/etc" "$d/l1/data" "$d/l1/bin" "$d/l2/etc" "$d/l3/data"
    echo base >"$d/l1/etc/hostname"
    echo gone >"$d/l1/etc/gone"
    echo a >"$d/l1/data/a"
    echo b >"$d/l1/data/b"
    echo su >"$d/l1/bin/su"
    chmod 4755 "$d/l1/bin/su"
    ln -s hostname "$d/l1/etc/link"
    ln "$d/l1/etc/hostname" "$d/l1/etc/hard"
    touch -d @1500000000 "$d/l1/data/a"
    : >"$d/l2/etc/.wh.gone"
    echo new2 >"$d/l2/etc/new2"
    echo c >"$d/l3/data/c"
    : >"$d/l3/data/.wh..wh..opq"
    tar --sort=name --owner=0 --group=0 -C "$d/l1" -cf "$d/l1.tar" .
    tar --sort=name --owner=0 --group=0 -C "$d/l2" -cf "$d/l2.tar" .
    # opaque marker after the entry it must not hide
    tar --owner=0 --group=0 -C "$d/l3" -cf "$d/l3.tar" ./data/ ./data/c ./data/.wh..wh..opq
}

config_json() { # DIFF_ID...
    jq -cn --args '{architecture:"amd64", os:"linux",
        config:{Cmd:["/bin/sh","-c","echo hi"], Entrypoint:null, Env:["PATH=/bin","A=1"], WorkingDir:"/data",
                User:"1000:1000", ExposedPorts:{"80/tcp":{}}, Volumes:{"/data":{}}},
        rootfs:{type:"layers", diff_ids:$ARGS.positional},
        history:[{created_by:"layer 1"},{created_by:"layer 2"},{created_by:"layer 3"}]}' "$@"
}

# make_docker_archive DIR OUT.tar : docker save format from make_layers' tars
make_docker_archive() {
    local d=$1 out=$2 s="$1/docker" ids=() layers=() i cfg
    mkdir -p "$s"
    for i in 1 2 3; do
        local h
        h=$(sha "$d/l$i.tar")
        mkdir -p "$s/$h"
        cp "$d/l$i.tar" "$s/$h/layer.tar"
        ids+=("sha256:$h")
        layers+=("$h/layer.tar")
    done
    config_json "${ids[@]}" >"$s/cfg.json"
    cfg=$(sha "$s/cfg.json")
    mv "$s/cfg.json" "$s/$cfg.json"
    jq -cn --arg c "$cfg.json" --args '[{Config:$c, RepoTags:["test/three:docker"], Layers:$ARGS.positional}]' \
        "${layers[@]}" >"$s/manifest.json"
    tar -C "$s" -cf "$out" .
}

# make_oci_layout DIR OUT_DIR : OCI layout; layer 1 gzip, layer 2 zstd, layer 3 uncompressed
make_oci_layout() {
    local d=$1 o=$2 ids=() descs=() i f h mt
    mkdir -p "$o/blobs/sha256"
    for i in 1 2 3; do
        ids+=("sha256:$(sha "$d/l$i.tar")")
        case $i in
            1) gzip -c "$d/l1.tar" >"$d/blob"; mt=application/vnd.oci.image.layer.v1.tar+gzip ;;
            2) zstd -q -c "$d/l2.tar" >"$d/blob"; mt=application/vnd.oci.image.layer.v1.tar+zstd ;;
            3) cp "$d/l3.tar" "$d/blob"; mt=application/vnd.oci.image.layer.v1.tar ;;
        esac
        h=$(sha "$d/blob")
        mv "$d/blob" "$o/blobs/sha256/$h"
        descs+=("$(jq -cn --arg m "$mt" --arg d "sha256:$h" --argjson s "$(stat -c %s "$o/blobs/sha256/$h")" \
            '{mediaType:$m, digest:$d, size:$s}')")
    done
    config_json "${ids[@]}" >"$d/cfg"
    h=$(sha "$d/cfg")
    local cs
    cs=$(stat -c %s "$d/cfg")
    mv "$d/cfg" "$o/blobs/sha256/$h"
    printf '%s\n' "${descs[@]}" | jq -cs --arg c "sha256:$h" --argjson cs "$cs" \
        '{schemaVersion:2, mediaType:"application/vnd.oci.image.manifest.v1+json",
          config:{mediaType:"application/vnd.oci.image.config.v1+json", digest:$c, size:$cs}, layers:.}' >"$d/man"
    h=$(sha "$d/man")
    f=$(stat -c %s "$d/man")
    mv "$d/man" "$o/blobs/sha256/$h"
    jq -cn --arg d "sha256:$h" --argjson s "$f" \
        '{schemaVersion:2, manifests:[{mediaType:"application/vnd.oci.image.manifest.v1+json", digest:$d, size:$s,
          annotations:{"org.opencontainers.image.ref.name":"latest"}}]}' >"$o/index.json"
    echo '{"imageLayoutVersion":"1.0.0"}' >"$o/oci-layout"
}

# make_rootfs_tar DIR OUT.tar : the merged tree as one plain tar (what docker export writes)
make_rootfs_tar() {
    local d=$1 m="$1/merged"
    mkdir -p "$m"
    cp -a "$d/l1/." "$m/"
    rm "$m/etc/gone"
    cp -a "$d/l2/etc/new2" "$m/etc/"
    rm -r "$m/data"
    mkdir "$m/data"
    cp -a "$d/l3/data/c" "$m/data/"
    tar --sort=name -C "$m" -cf "$2" .
}

# the merged view a correct mount of the 3-layer image shows (sorted, relative)
export EXPECTED_TREE='bin
bin/su
data
data/c
etc
etc/hard
etc/hostname
etc/link
etc/new2'

# tree DIR : sorted relative listing
tree() { (cd "$1" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort); }
