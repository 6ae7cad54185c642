#!/usr/bin/env bash
# bench-scale.sh - per-container costs as containers accumulate: SCALE_N (default 1000)
# detached bridge containers with a memory limit (busybox sleep) started one after another,
# and at the checkpoints 1, 100, 500 and SCALE_N running containers:
#   - ctr-run -d: the start time of the containers around the checkpoint (median of 5)
#   - netbridge attach --etc and attach --publish of a spare namespace (median of 9 each),
#     and their kernel floor: one `ip -batch` making the veth pair, its peer in the
#     namespace, on the bridge and up (the bridge's own work grows with its ports)
#   - ctr-exec, ctr-stop, ctr-rm of a probe container (median of 9 each), and the kernel
#     floor of the removal's cgroup part: rmdir of a cgroup that had a limit and a process
#   - ctr-ps, ctr-ps -q and ctr-ls, and their floors: a C walk of /proc doing the reads each
#     output needs (bench/proc-floor.c, and -q)
#   - RSS of ctrkit's processes left per container (the monitor, as ctr-state wait while the
#     container runs; the log relay, ctr-state log; nsenter-rs waiting for the container):
#     VmRSS, RssAnon and PSS, per program
# then each per-container cost at SCALE_N as a ratio to its cost at 1 (target <= 1.25x), the
# attaches' own part (less the kernel floor) likewise, and ctr-ps at SCALE_N as a ratio to
# its floor (target <= 1.2x).
# Then, once they are removed, `podman run -d` of PODMAN_N (default 500; 0: none) containers
# the same way, at 1, 100 and 500, and the RSS of its conmon beside each.
#
# All inside a test host: a network and mount namespace of its own (the bridge, veths and nft
# rules never touch the host's network), its own CTRKIT_ROOT/CTRKIT_STATE (state on a tmpfs)
# and cgroup parent, all removed at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

[ "$(id -u)" = 0 ] || { echo "bench-scale: needs root" >&2; exit 1; }
if [ "${1-}" != --inner ]; then
    exec unshare -n -m --propagation private bash "$0" --inner
fi
ip link set lo up
N=${SCALE_N:-1000}
checkpoints=()
for c in 1 100 500 "$N"; do
    [ "$c" -le "$N" ] || continue
    [ "${#checkpoints[@]}" = 0 ] || [ "${checkpoints[-1]}" != "$c" ] || continue
    checkpoints+=("$c")
done

tmp=$(mktemp -d /tmp/bench-scale.XXXXXX)
mkdir "$tmp/run"
mount -t tmpfs -o size=512m,mode=0700 ctrkit-bench-run "$tmp/run"
export CTRKIT_ROOT=$tmp/root CTRKIT_STATE=$tmp/run/ctrkit CTRKIT_CGROUP_PARENT=ctrkit-bench-scale-$$
spares=()
cleanup() {
    for p in "${spares[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    if [ -d "$CTRKIT_STATE/containers" ]; then
        (cd "$CTRKIT_STATE/containers" && printf '%s\n' *) | xargs -r -n 50 ctr-rm -f >/dev/null 2>&1 || true
    fi
    for d in /sys/fs/cgroup/*/"$CTRKIT_CGROUP_PARENT" /sys/fs/cgroup/"$CTRKIT_CGROUP_PARENT"; do
        [ ! -d "$d" ] || rmdir "$d"/floor* "$d" 2>/dev/null || true
    done
    # the template mount namespace ctr-run pinned (nsenter-rs --mnt-template)
    nsenter-rs --unpin "$CTRKIT_STATE/template" >/dev/null 2>&1 || true
    umount "$tmp/run" 2>/dev/null || true
    rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

cc -O2 -o "$tmp/proc-floor" "$here/proc-floor.c"
mkimage-busybox --busybox /bin/busybox >/dev/null
ctr-run --rm --network none busybox true || { echo "bench-scale: ctr-run does not work" >&2; exit 1; }
bridge=${CTRKIT_BRIDGE:-ctrkit0}

# timed FILE CMD... : run CMD (output discarded), append its wall time in ms to FILE
timed() {
    local f=$1 t0 t1
    shift
    t0=${EPOCHREALTIME/./}
    "$@" >/dev/null
    t1=${EPOCHREALTIME/./}
    echo "$(((t1 - t0) / 1000)).$(printf '%03d' $(((t1 - t0) % 1000)))" >>"$f"
}

# median FILE : the median of the numbers in FILE
median() {
    sort -g "$1" | awk '{a[NR]=$1} END{if (NR==0) {print "nan"; exit}
        if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'
}

# a spare network namespace for the attach timings (a process holds it)
spare() {
    unshare -n sleep infinity </dev/null >/dev/null 2>&1 &
    local i=0
    while [ "$(readlink "/proc/$!/ns/net")" = "$(readlink /proc/self/ns/net)" ]; do
        i=$((i + 1)); [ $i -lt 200 ] || exit 1; sleep 0.01
    done
    echo $!
}

# rm_floor NAME : the kernel's part of a removal's cgroups, under cgroup NAME (see
# at_checkpoint); the time of the rmdir alone goes to rm-floor.$c
rm_floor() {
    local d mem dirs=()
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        dirs=("/sys/fs/cgroup/$CTRKIT_CGROUP_PARENT/$1")
        mem=${dirs[0]}
    else
        for d in /sys/fs/cgroup/*/"$CTRKIT_CGROUP_PARENT"; do dirs+=("$d/$1"); done
        mem=/sys/fs/cgroup/memory/$CTRKIT_CGROUP_PARENT/$1
    fi
    mkdir "${dirs[@]}"
    if [ -f "$mem/memory.max" ]; then echo 32M >"$mem/memory.max"; else echo 32M >"$mem/memory.limit_in_bytes"; fi
    sh -c 'echo $$ >"$1/cgroup.procs" && exec head -c 4M /dev/zero' sh "$mem" >/dev/null
    timed "$res/rm-floor.$c" rmdir "${dirs[@]}"
}

res=$tmp/res
mkdir -p "$res"
limits=(--memory 32m)
echo "starting $N detached bridge containers (${limits[*]}, busybox sleep) one after another; checkpoints ${checkpoints[*]}"

# keeper: the network publishes a port throughout (as a host with published containers
# does), so the attach --publish timings are of the steady state, not the first port's
first=1
at_checkpoint() {
    local c=$1 i sp
    # (the writeback of the folders the starts so far made is theirs, not the probes': a
    # ctr-rm that met it took 65 ms instead of 7)
    sync
    sp=$(spare)
    spares+=("$sp")
    if [ "$first" = 1 ]; then
        netbridge attach "$sp" --bridge "$bridge" --publish 19999:80 >/dev/null
        first=0
        sp=$(spare)
        spares+=("$sp")
    fi
    printf '%s\n' "link add vbfloor0 type veth peer name eth0 netns $sp" "link set vbfloor0 master $bridge up" >"$tmp/floor.batch"
    for i in 1 2 3 4 5 6 7 8 9; do
        timed "$res/attach-etc.$c" netbridge attach "$sp" --bridge "$bridge" --name "spare$c" --etc "$tmp/spare-etc"
        netbridge detach "$sp" --bridge "$bridge"
        timed "$res/attach-publish.$c" netbridge attach "$sp" --bridge "$bridge" --publish "$((30000 + i)):80"
        netbridge detach "$sp" --bridge "$bridge"
        # the kernel's part alone: a veth pair, its peer into the namespace, on the bridge, up
        timed "$res/attach-floor.$c" ip -batch "$tmp/floor.batch"
        ip link del vbfloor0
    done
    for i in 1 2 3 4 5 6 7 8 9; do
        ctr-run -d --name "probe$c-$i" "${limits[@]}" busybox sleep 100000 >/dev/null
        timed "$res/exec.$c" ctr-exec "probe$c-$i" true
        timed "$res/stop.$c" ctr-stop -t 0 "probe$c-$i"
        timed "$res/rm.$c" ctr-rm "probe$c-$i"
    done
    # the kernel's part of a removal's cgroups: a cgroup in every hierarchy the containers'
    # parent is in, with a memory limit and a process that ran in its memory cgroup, then
    # removed (rmdir: the kernel takes the cgroup offline, reparenting its memory)
    for i in 1 2 3 4 5 6 7 8 9; do
        rm_floor "floor$c-$i"
    done
    for i in 1 2 3 4 5; do
        timed "$res/ps.$c" ctr-ps
        timed "$res/psq.$c" ctr-ps -q
        timed "$res/floor.$c" "$tmp/proc-floor"
        timed "$res/floorq.$c" "$tmp/proc-floor" -q
        timed "$res/ls.$c" ctr-ls
    done
    # RSS of what ctrkit leaves running beside each container (outside its cgroup): the
    # monitor shells, the log relay, nsenter-rs waiting for the container's first process
    local n=0 p args prog
    for p in /proc/[0-9]*; do
        grep -qs "$CTRKIT_CGROUP_PARENT/" "$p/cgroup" && continue
        args=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
        case $args in
            *"ctr-run -d --name s"[0-9]*)
                # (a monitor of this bench's, not of another test host's on the machine)
                grep -qs "CTRKIT_STATE=$CTRKIT_STATE" "$p/environ" || continue
                ;;
            *"$CTRKIT_ROOT/logs/s"[0-9]* | *"$CTRKIT_STATE/containers/s"[0-9]*) ;;
            *) continue ;;
        esac
        # VmRSS, RssAnon (its own pages) and PSS (shared pages -- the binaries' text, the
        # same in every container -- counted once over all who map them), in MiB
        prog=${args%% *}
        prog=${prog##*/}
        # (ctr-state twice: the monitor waiting as `ctr-state wait`, the log relay)
        if [ "$prog" = ctr-state ]; then
            prog=${args#* }
            prog=ctr-state-${prog%% *}
        fi
        if awk -v a="$prog" '/^VmRSS:/{r = $2} /^RssAnon:/{an = $2}
            END{printf "%.3f %s %.3f ", r / 1024, a, an / 1024}' "$p/status" 2>/dev/null; then
            awk '/^Pss:/{s += $2} END{printf "%.3f\n", s / 1024}' "$p/smaps_rollup" 2>/dev/null || echo 0
        fi
        n=$((n + 1))
    done >"$res/rssp.$c"
    cut -d' ' -f1 "$res/rssp.$c" >"$res/rss.$c"
    cut -d' ' -f3 "$res/rssp.$c" >"$res/anon.$c"
    awk -v c="$c" '{t += $1} END{printf "%.3f\n", t / c}' "$res/rss.$c" >"$res/rsstotal.$c"
    awk -v c="$c" '{t += $4} END{printf "%.3f\n", t / c}' "$res/rssp.$c" >"$res/psstotal.$c"
    echo "  $c running: $n ctrkit processes beside them ($(awk '{print $2}' "$res/rssp.$c" | sort | uniq -c | tr -s ' ' | tr '\n' ','))"
}

ci=0
for i in $(seq 1 "$N"); do
    timed "$res/start.all" ctr-run -d --name "s$i" "${limits[@]}" busybox sleep 100000
    if [ "$i" = "${checkpoints[$ci]}" ]; then
        at_checkpoint "$i"
        ci=$((ci + 1))
        [ "$ci" -lt "${#checkpoints[@]}" ] || ci=0
    fi
done
# the starts around each checkpoint: the 5 after the first container, the 5 up to the others
for c in "${checkpoints[@]}"; do
    if [ "$c" -le 5 ]; then sed -n '1,5p' "$res/start.all"; else sed -n "$((c - 4)),${c}p" "$res/start.all"; fi >"$res/start.$c"
done

echo
echo "== per-container costs as containers accumulate (medians, ms; RSS in MiB) =="
printf '  %-34s' "running containers"
for c in "${checkpoints[@]}"; do printf '%10s' "$c"; done
printf '%12s\n' "$N vs 1"
for k in start attach-etc attach-publish attach-floor exec stop rm rm-floor ls ps psq floor floorq rss anon rsstotal psstotal; do
    case $k in
        start) label="ctr-run -d (bridge, ${limits[*]})" ;;
        attach-etc) label="netbridge attach --etc" ;;
        attach-publish) label="netbridge attach --publish" ;;
        attach-floor) label="attach floor: ip veth+master" ;;
        exec) label="ctr-exec true" ;;
        stop) label="ctr-stop -t 0" ;;
        rm) label="ctr-rm" ;;
        rm-floor) label="rm floor: rmdir of its cgroups" ;;
        ls) label="ctr-ls (lists all)" ;;
        ps) label="ctr-ps (lists all)" ;;
        psq) label="ctr-ps -q (names only)" ;;
        floor) label="ctr-ps floor: /proc walk" ;;
        floorq) label="ctr-ps -q floor" ;;
        rss) label="RSS per ctrkit process (median)" ;;
        anon) label="  of it its own (RssAnon, median)" ;;
        rsstotal) label="RSS of ctrkit per container" ;;
        psstotal) label="PSS of ctrkit per container" ;;
    esac
    printf '  %-34s' "$label"
    for c in "${checkpoints[@]}"; do printf '%10s' "$(median "$res/$k.$c")"; done
    awk -v a="$(median "$res/$k.1")" -v b="$(median "$res/$k.$N")" \
        'BEGIN{ if (a > 0) printf "%11.2fx\n", b / a; else print "" }'
done
# the attaches' own part: each median less the kernel floor's at the same count (the
# bridge's work per port added grows with its ports, in the kernel, for any tool)
for k in attach-etc attach-publish; do
    printf '  %-34s' "${k/attach-/attach --} less its floor"
    for c in "${checkpoints[@]}"; do
        awk -v a="$(median "$res/$k.$c")" -v f="$(median "$res/attach-floor.$c")" 'BEGIN{printf "%10.3f", a - f}'
    done
    awk -v a1="$(median "$res/$k.1")" -v f1="$(median "$res/attach-floor.1")" \
        -v an="$(median "$res/$k.$N")" -v fn="$(median "$res/attach-floor.$N")" \
        'BEGIN{ if (a1 - f1 > 0) printf "%11.2fx\n", (an - fn) / (a1 - f1); else print "" }'
done
awk -v a="$(median "$res/ps.$N")" -v q="$(median "$res/psq.$N")" -v b="$(median "$res/floor.$N")" \
    -v bq="$(median "$res/floorq.$N")" -v n="$N" \
    'BEGIN{ if (b > 0 && bq > 0) printf "  ctr-ps at %s vs its /proc-walk floor: %.2fx (ctr-ps -q vs its own: %.2fx)\n", n, a / b, q / bq }'
echo "  memory (MiB) of ctrkit's processes beside the containers at $N, by program:"
echo "  count, median VmRSS and its max, median RssAnon (its own pages), median PSS"
colmed() { # colmed COL : the median of column COL of stdin
    cut -d' ' -f"$1" | sort -g | awk '{a[NR] = $1} END{if (NR) print a[int((NR + 1) / 2)]}'
}
cut -d' ' -f2 "$res/rssp.$N" | sort -u | while read -r prog; do
    awk -v p="$prog" '$2 == p' "$res/rssp.$N" >"$res/prog"
    printf '    %-24s %4d  %6.2f %6.2f  %6.2f  %6.2f\n' "$prog" "$(wc -l <"$res/prog")" \
        "$(colmed 1 <"$res/prog")" "$(cut -d' ' -f1 "$res/prog" | sort -g | tail -1)" \
        "$(colmed 3 <"$res/prog")" "$(colmed 4 <"$res/prog")"
done

echo
echo "removing the $N containers"
t0=${EPOCHREALTIME/./}
(cd "$CTRKIT_STATE/containers" && printf '%s\n' *) | xargs -r -n 50 ctr-rm -f >/dev/null
t1=${EPOCHREALTIME/./}
echo "  ctr-rm -f of all: $(((t1 - t0) / 1000)) ms"

# --- podman run -d beside it, PODMAN_N (default 500, 0: skipped) containers, the same way
# (rootful, runc, cgroupfs, its storage and run root under $tmp; --network none: its bridge
# needs CNI plugins this host may not have); its conmon per container is its RSS beside each
PN=${PODMAN_N:-500}
if [ "$PN" -gt 0 ] && command -v podman >/dev/null; then
    P=$tmp/podman
    mkdir -p "$P/tmp" "$P/vol" "$P/net.d" "$P/graph" "$P/run"
    printf '%s\n' '[containers]' 'default_ulimits = ["nofile=20000:20000","nproc=32768:32768"]' \
        '[engine]' 'cgroup_manager = "cgroupfs"' 'events_logger = "file"' 'runtime = "runc"' \
        "tmp_dir = \"$P/tmp\"" "volume_path = \"$P/vol\"" '[network]' 'network_backend = "cni"' \
        "network_config_dir = \"$P/net.d\"" >"$P/containers.conf"
    printf '%s\n' '[storage]' 'driver = "overlay"' "graphroot = \"$P/graph\"" "runroot = \"$P/run\"" \
        >"$P/storage.conf"
    export CONTAINERS_CONF=$P/containers.conf CONTAINERS_STORAGE_CONF=$P/storage.conf
    podman_down() {
        podman rm -a -f -t 0 >/dev/null 2>&1 || true
        podman rmi -a -f >/dev/null 2>&1 || true
        podman system reset -f >/dev/null 2>&1 || true
        for d in /sys/fs/cgroup/*/"$CTRKIT_CGROUP_PARENT"/podman /sys/fs/cgroup/unified/"$CTRKIT_CGROUP_PARENT"/podman; do
            [ ! -d "$d" ] || find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
        done
    }
    trap 'podman_down; cleanup' EXIT
    layermount export busybox -o "$tmp/busybox.tar" >/dev/null
    if podman import -q "$tmp/busybox.tar" benchbusybox >/dev/null 2>&1 &&
        podman run --rm --network none benchbusybox true >/dev/null 2>&1; then
        echo
        echo "starting $PN podman containers (podman run -d --network none ${limits[*]}, busybox sleep)"
        pc=()
        for c in 1 100 500; do [ "$c" -gt "$PN" ] || pc+=("$c"); done
        for i in $(seq 1 "$PN"); do
            timed "$res/pstart.all" podman run -d --network none "${limits[@]}" \
                --cgroup-parent "/$CTRKIT_CGROUP_PARENT/podman" benchbusybox sleep 100000
        done
        printf '  %-34s' "podman run -d (--network none)"
        for c in "${pc[@]}"; do
            if [ "$c" -le 5 ]; then sed -n '1,5p' "$res/pstart.all"; else sed -n "$((c - 4)),${c}p" "$res/pstart.all"; fi >"$res/pstart.$c"
            printf '  at %s: %s ms' "$c" "$(median "$res/pstart.$c")"
        done
        awk -v a="$(median "$res/pstart.1")" -v b="$(median "$res/pstart.${pc[-1]}")" -v n="${pc[-1]}" \
            'BEGIN{ if (a > 0) printf "  (%s vs 1: %.2fx)\n", n, b / a; else print "" }'
        # conmon, podman's process beside each container
        for p in $(pgrep -x conmon); do
            grep -qs "$P/" "/proc/$p/cmdline" || continue # (ours only)
            awk '/^VmRSS:/{r = $2} /^RssAnon:/{a = $2} END{printf "%.3f %.3f\n", r / 1024, a / 1024}' \
                "/proc/$p/status" 2>/dev/null || true
        done >"$res/conmon"
        echo "  conmon per container: VmRSS $(cut -d' ' -f1 "$res/conmon" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}') MiB, RssAnon $(cut -d' ' -f2 "$res/conmon" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}') MiB (medians of $(wc -l <"$res/conmon"))"
    else
        echo "  (podman does not run here: not measured)"
    fi
    podman_down
fi
