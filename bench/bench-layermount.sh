#!/usr/bin/env bash
# bench-layermount.sh - import of a ~50 MB multi-layer image against `umoci unpack` of the
# same image and plain `tar -x` of its layers; mount+umount of a container against a bare
# overlay mount+umount of the same layers, both inside the same `unshare -m sh -c` wrapper;
# pull of the same image from a local registry (Debian's docker-registry on a free loopback
# port) against `podman pull` and `skopeo copy` + `layermount import`.
#
# Everything lives in a temp dir and a private mount namespace; both are gone at the end
# (the registry is stopped by its pid).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

[ "$(id -u)" = 0 ] || { echo "bench-layermount: needs root" >&2; exit 1; }
if [ "${1-}" != --inner ]; then
    exec unshare -m --propagation private bash "$0" --inner
fi
command -v umoci >/dev/null || { echo "bench-layermount: needs umoci" >&2; exit 1; }
RUNS=${BENCH_RUNS:-10}
# BENCH_SECTIONS: which comparisons to run (default all: import mount pull)
SECTIONS=" ${BENCH_SECTIONS:-import mount pull} "
want() { [[ "$SECTIONS" == *" $1 "* ]]; }
MOUNT_RUNS=${BENCH_MOUNT_RUNS:-40}

tmp=$(mktemp -d /tmp/bench-layermount.XXXXXX)
reg_pid=''
trap '[ -z "$reg_pid" ] || { kill "$reg_pid"; wait "$reg_pid" || true; } 2>/dev/null; rm -rf --one-file-system "$tmp"' EXIT
export CTRKIT_ROOT=$tmp/root

# A 5-layer OCI image, ~50 MB uncompressed: each layer ~10 MB in ~300 files (compressible
# text and incompressible bytes), gzip-compressed blobs, a whiteout in the last layer.
img=$tmp/img
mkdir -p "$img/blobs/sha256" "$tmp/src"
descs=()
ids=()
for l in 1 2 3 4 5; do
    d=$tmp/src/l$l
    mkdir -p "$d/usr/lib/l$l" "$d/usr/share/doc/l$l"
    for f in $(seq 1 150); do
        head -c 24000 /dev/urandom | base64 >"$d/usr/share/doc/l$l/t$f.txt"
        head -c 34000 /dev/urandom >"$d/usr/lib/l$l/b$f.so"
    done
    [ "$l" != 5 ] || { mkdir -p "$d/usr/lib/l1" && : >"$d/usr/lib/l1/.wh.b1.so"; }
    tar -C "$d" -cf "$tmp/layer.tar" .
    ids+=("sha256:$(sha256sum "$tmp/layer.tar" | cut -d' ' -f1)")
    gzip -1 -c "$tmp/layer.tar" >"$tmp/blob"
    h=$(sha256sum "$tmp/blob" | cut -d' ' -f1)
    mv "$tmp/blob" "$img/blobs/sha256/$h"
    descs+=("$(jq -cn --arg d "sha256:$h" --argjson s "$(stat -c %s "$img/blobs/sha256/$h")" \
        '{mediaType:"application/vnd.oci.image.layer.v1.tar+gzip", digest:$d, size:$s}')")
done
rm -f "$tmp/layer.tar"
jq -cn --args '{architecture:"amd64", os:"linux", config:{}, rootfs:{type:"layers", diff_ids:$ARGS.positional}}' \
    "${ids[@]}" >"$tmp/cfg"
ch=$(sha256sum "$tmp/cfg" | cut -d' ' -f1)
cs=$(stat -c %s "$tmp/cfg")
mv "$tmp/cfg" "$img/blobs/sha256/$ch"
printf '%s\n' "${descs[@]}" | jq -cs --arg c "sha256:$ch" --argjson cs "$cs" \
    '{schemaVersion:2, mediaType:"application/vnd.oci.image.manifest.v1+json",
      config:{mediaType:"application/vnd.oci.image.config.v1+json", digest:$c, size:$cs}, layers:.}' >"$tmp/man"
mh=$(sha256sum "$tmp/man" | cut -d' ' -f1)
ms=$(stat -c %s "$tmp/man")
mv "$tmp/man" "$img/blobs/sha256/$mh"
jq -cn --arg d "sha256:$mh" --argjson s "$ms" \
    '{schemaVersion:2, manifests:[{mediaType:"application/vnd.oci.image.manifest.v1+json", digest:$d, size:$s,
      annotations:{"org.opencontainers.image.ref.name":"bench"}}]}' >"$img/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$img/oci-layout"
echo "image: 5 layers, $(du -sm "$tmp/src" | cut -f1) MB uncompressed, $(du -sm "$img" | cut -f1) MB of gzip blobs"

blobs=$(jq -r '.layers[].digest' "$img/blobs/sha256/$mh" | cut -d: -f2 | tr '\n' ' ')
untar_all="rm -rf $tmp/tx && mkdir $tmp/tx && i=0 && for b in $blobs; do i=\$((i+1)); mkdir $tmp/tx/\$i && tar -xzf $img/blobs/sha256/\$b -C $tmp/tx/\$i; done"

want import && compare "import of a 5-layer ~50 MB image (gzip layers)" "$RUNS" \
    "layermount import" "rm -rf $tmp/lm && CTRKIT_ROOT=$tmp/lm layermount import $img >/dev/null" \
    "umoci unpack" "rm -rf $tmp/um && umoci unpack --image $img:bench $tmp/um >/dev/null 2>&1" \
    "tar -xzf of each layer" "$untar_all"
rm -rf "$tmp/lm" "$tmp/um" "$tmp/tx"

# mount + umount: the same 5 layers, a container layer each side
if want mount; then
    layermount import "$img" --name bench >/dev/null
    mkdir -p "$tmp/t1" "$tmp/t2" "$tmp/up" "$tmp/wk"
    lower=$(for d in $(jq -r '.layers | reverse | .[].diff_id' <(layermount inspect bench --json)); do
        printf '%s:' "$CTRKIT_ROOT/layers/layer/${d#sha256:}/diff"
    done)
    lower=${lower%:}
    layermount mount bench "$tmp/t1" --container bench >/dev/null
    layermount umount bench
    compare "mount + umount of a 5-layer container (each in unshare -m sh -c)" "$MOUNT_RUNS" \
        "layermount mount + umount" "unshare -m sh -c 'layermount mount bench $tmp/t1 --container bench >/dev/null && layermount umount bench'" \
        "mount -t overlay + umount" "unshare -m sh -c 'mount -t overlay overlay -o lowerdir=$lower,upperdir=$tmp/up,workdir=$tmp/wk $tmp/t2 && umount $tmp/t2'"
    layermount rm-container bench
fi

# pull from a registry on this machine
want pull || exit 0
if ! command -v docker-registry >/dev/null || ! command -v skopeo >/dev/null; then
    echo "bench-layermount: no docker-registry or skopeo: pull not measured" >&2
    exit 0
fi
PULL_RUNS=${BENCH_PULL_RUNS:-10}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$tmp/registry" "$port" >"$tmp/registry.yml"
docker-registry serve "$tmp/registry.yml" >"$tmp/registry.log" 2>&1 &
reg_pid=$!
reg=127.0.0.1:$port
for _ in $(seq 100); do curl -s -o /dev/null "http://$reg/v2/" && break; sleep 0.05; done
skopeo copy -q --dest-tls-verify=false "oci:$img:bench" "docker://$reg/bench/img:v1"
# podman with its storage (overlay, its default) in the temp dir; its overlay driver
# bind-mounts its home, unmounted before each removal
printf '[engine]\nevents_logger = "file"\ncgroup_manager = "cgroupfs"\ntmp_dir = "%s"\n' \
    "$tmp/podman-tmp" >"$tmp/containers.conf"
pd=$tmp/pd
podman_pull="CONTAINERS_CONF=$tmp/containers.conf podman --root $pd/root --runroot $pd/run --storage-driver overlay pull -q --tls-verify=false $reg/bench/img:v1 >/dev/null"
podman_clean="{ umount $pd/root/overlay 2>/dev/null; rm -rf $pd; }"
if ! sh -c "$podman_pull && $podman_clean" 2>"$tmp/podman.err"; then
    echo "bench-layermount: podman pull failed, left out: $(tail -n 1 "$tmp/podman.err")" >&2
    podman_pull=''
fi
set -- "layermount pull" "rm -rf $tmp/lp && CTRKIT_ROOT=$tmp/lp layermount pull -q $reg/bench/img:v1 >/dev/null"
[ -z "$podman_pull" ] || set -- "$@" "podman pull" "$podman_clean; $podman_pull && $podman_clean"
set -- "$@" "skopeo copy + layermount import" \
    "rm -rf $tmp/sk $tmp/li && skopeo copy -q --src-tls-verify=false docker://$reg/bench/img:v1 oci:$tmp/sk:bench && CTRKIT_ROOT=$tmp/li layermount import $tmp/sk >/dev/null"
compare "pull of the 5-layer ~50 MB image from a registry on 127.0.0.1 (empty store each run)" "$PULL_RUNS" "$@"
rm -rf "$tmp/lp" "$tmp/sk" "$tmp/li"
