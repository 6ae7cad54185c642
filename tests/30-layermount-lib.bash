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
    tar --no-recursion --owner=0 --group=0 -C "$d/l3" -cf "$d/l3.tar" ./data/ ./data/c ./data/.wh..wh..opq
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

# --- a real registry (Debian's docker-registry, the CNCF distribution registry) ----------

# start_registry DIR [HTPASSWD] : serve on a free 127.0.0.1 port, data and log under DIR,
# with htpasswd (bcrypt) auth when given, and HTTPS when DIR/cert.pem and DIR/key.pem exist;
# sets and exports REG (HOST:PORT). The pid is in DIR/pid: stop_registry DIR ends it.
# Starting it again in the same DIR keeps the data and the port.
start_registry() {
    local d=$1 port
    mkdir -p "$d/data"
    if [ -s "$d/port" ]; then
        port=$(cat "$d/port")
    else
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        echo "$port" >"$d/port"
    fi
    {
        printf 'version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: false\n'
        printf 'storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n' "$d/data"
        printf 'http:\n  addr: 127.0.0.1:%s\n' "$port"
        if [ -f "$d/cert.pem" ]; then
            printf '  tls:\n    certificate: %s\n    key: %s\n' "$d/cert.pem" "$d/key.pem"
        fi
        if [ -n "${2-}" ]; then
            printf 'auth:\n  htpasswd:\n    realm: ctrkit-test\n    path: %s\n' "$2"
        fi
    } >"$d/config.yml"
    docker-registry serve "$d/config.yml" >>"$d/log" 2>&1 3>&- </dev/null &
    echo $! >"$d/pid"
    export REG="127.0.0.1:$port"
    local i=0
    local scheme=http
    [ ! -f "$d/cert.pem" ] || scheme=https
    until curl -s -k -o /dev/null "$scheme://$REG/v2/"; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "registry did not start: $(cat "$d/log")" >&2; return 1; }
        sleep 0.05
    done
}

# stop_registry DIR : end the registry started in DIR, by its pid
stop_registry() {
    local p
    [ -s "$1/pid" ] || return 0
    p=$(cat "$1/pid")
    kill "$p" 2>/dev/null || true
    local i=0
    while [ -d "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] && [ $i -lt 100 ]; do
        sleep 0.05; i=$((i + 1))
    done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    rm -f "$1/pid"
}

# make_platform_index OUT_DIR : an OCI layout whose index lists a linux/amd64 and a
# linux/arm64/v8 image, each one layer with /arch holding its architecture
make_platform_index() {
    local o=$1 w="$1.work" descs=() a h s cfg cs m ms
    mkdir -p "$o/blobs/sha256" "$w"
    for a in amd64 arm64; do
        mkdir -p "$w/$a"
        echo "$a" >"$w/$a/arch"
        tar --sort=name --owner=0 --group=0 -C "$w/$a" -cf "$w/$a.tar" .
        gzip -n -c "$w/$a.tar" >"$w/blob"
        h=$(sha "$w/blob"); s=$(stat -c %s "$w/blob")
        mv "$w/blob" "$o/blobs/sha256/$h"
        jq -cn --arg a "$a" --arg d "sha256:$(sha "$w/$a.tar")" \
            '{architecture:$a, os:"linux", config:{Cmd:["/bin/sh"]}, rootfs:{type:"layers", diff_ids:[$d]}}' >"$w/cfg"
        cfg=$(sha "$w/cfg"); cs=$(stat -c %s "$w/cfg")
        mv "$w/cfg" "$o/blobs/sha256/$cfg"
        jq -cn --arg c "sha256:$cfg" --argjson cs "$cs" --arg l "sha256:$h" --argjson ls "$s" \
            '{schemaVersion:2, mediaType:"application/vnd.oci.image.manifest.v1+json",
              config:{mediaType:"application/vnd.oci.image.config.v1+json", digest:$c, size:$cs},
              layers:[{mediaType:"application/vnd.oci.image.layer.v1.tar+gzip", digest:$l, size:$ls}]}' >"$w/man"
        m=$(sha "$w/man"); ms=$(stat -c %s "$w/man")
        mv "$w/man" "$o/blobs/sha256/$m"
        if [ "$a" = arm64 ]; then
            descs+=("$(jq -cn --arg d "sha256:$m" --argjson s "$ms" '{mediaType:"application/vnd.oci.image.manifest.v1+json", digest:$d, size:$s, platform:{architecture:"arm64", os:"linux", variant:"v8"}}')")
        else
            descs+=("$(jq -cn --arg d "sha256:$m" --argjson s "$ms" '{mediaType:"application/vnd.oci.image.manifest.v1+json", digest:$d, size:$s, platform:{architecture:"amd64", os:"linux"}}')")
        fi
    done
    printf '%s\n' "${descs[@]}" | jq -cs '{schemaVersion:2, mediaType:"application/vnd.oci.image.index.v1+json", manifests:.}' >"$w/idx"
    h=$(sha "$w/idx"); s=$(stat -c %s "$w/idx")
    mv "$w/idx" "$o/blobs/sha256/$h"
    jq -cn --arg d "sha256:$h" --argjson s "$s" \
        '{schemaVersion:2, manifests:[{mediaType:"application/vnd.oci.image.index.v1+json", digest:$d, size:$s,
          annotations:{"org.opencontainers.image.ref.name":"multi"}}]}' >"$o/index.json"
    echo '{"imageLayoutVersion":"1.0.0"}' >"$o/oci-layout"
    rm -rf "$w"
}

# blob_gets REGISTRY_DIR DIGEST : how many times the registry served blob DIGEST (access log)
blob_gets() {
    grep -c "\"GET /v2/[^ ]*/blobs/$2 " "$1/log" || true
}

# make_oci_from_dirs OUT_DIR DIR... : an OCI layout (tag latest) with one uncompressed layer
# per DIR, in order
make_oci_from_dirs() {
    local o=$1 w="$1.work" ids=() descs=() d h s c cs
    shift
    mkdir -p "$o/blobs/sha256" "$w"
    for d in "$@"; do
        tar --sort=name --owner=0 --group=0 -C "$d" -cf "$w/l.tar" .
        h=$(sha "$w/l.tar"); s=$(stat -c %s "$w/l.tar")
        mv "$w/l.tar" "$o/blobs/sha256/$h"
        ids+=("sha256:$h")
        descs+=("$(jq -cn --arg d "sha256:$h" --argjson s "$s" '{mediaType:"application/vnd.oci.image.layer.v1.tar", digest:$d, size:$s}')")
    done
    jq -cn --args '{architecture:"amd64", os:"linux", config:{}, rootfs:{type:"layers", diff_ids:$ARGS.positional}}' "${ids[@]}" >"$w/cfg"
    c=$(sha "$w/cfg"); cs=$(stat -c %s "$w/cfg")
    mv "$w/cfg" "$o/blobs/sha256/$c"
    printf '%s\n' "${descs[@]}" | jq -cs --arg c "sha256:$c" --argjson cs "$cs" \
        '{schemaVersion:2, mediaType:"application/vnd.oci.image.manifest.v1+json",
          config:{mediaType:"application/vnd.oci.image.config.v1+json", digest:$c, size:$cs}, layers:.}' >"$w/man"
    h=$(sha "$w/man"); s=$(stat -c %s "$w/man")
    mv "$w/man" "$o/blobs/sha256/$h"
    jq -cn --arg d "sha256:$h" --argjson s "$s" \
        '{schemaVersion:2, manifests:[{mediaType:"application/vnd.oci.image.manifest.v1+json", digest:$d, size:$s,
          annotations:{"org.opencontainers.image.ref.name":"latest"}}]}' >"$o/index.json"
    echo '{"imageLayoutVersion":"1.0.0"}' >"$o/oci-layout"
    rm -rf "$w"
}
