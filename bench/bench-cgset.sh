#!/usr/bin/env bash
# bench-cgset.sh - create + set (memory, cpus, pids) + delete of one cgroup:
# cgset against libcgroup's cgcreate/cgset/cgdelete and against plain mkdir/echo/rmdir
# from sh (the floor: no detection, no checks, no rollback). Runs under a unique parent
# cgroup that it removes at the end. Needs root.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { echo "bench-cgset: needs root" >&2; exit 1; }
command -v cgset >/dev/null || { echo "bench-cgset: no cgset built in $CTRKIT_RELEASE" >&2; exit 1; }
RUNS=${BENCH_RUNS:-30}
CG=/sys/fs/cgroup
P="ctrkit-bench-$$"
mode=$(cgset info --json | jq -r .mode)
LIBCG=/usr/bin/cgset # libcgroup's cgset (ours is first on PATH)

cleanup() { cgset delete --kill --missing-ok "$P" >/dev/null 2>&1 || true; }
trap cleanup EXIT
cgset create "$P"

if [ "$mode" = v2 ]; then
    sh_cmd="mkdir $CG/$P/x && echo 67108864 > $CG/$P/x/memory.max && echo '50000 100000' > $CG/$P/x/cpu.max && echo 100 > $CG/$P/x/pids.max && rmdir $CG/$P/x"
    lib_cmd="cgcreate -g memory,cpu,pids:$P/x && $LIBCG -r memory.max=64M -r cpu.max='50000 100000' -r pids.max=100 $P/x && cgdelete -g memory:$P/x"
else
    sh_cmd="mkdir $CG/memory/$P/x $CG/cpu/$P/x $CG/pids/$P/x && echo 67108864 > $CG/memory/$P/x/memory.limit_in_bytes && echo 100000 > $CG/cpu/$P/x/cpu.cfs_period_us && echo 50000 > $CG/cpu/$P/x/cpu.cfs_quota_us && echo 100 > $CG/pids/$P/x/pids.max && rmdir $CG/memory/$P/x $CG/cpu/$P/x $CG/pids/$P/x"
    # libcgroup 2.0.2's cgdelete with several controllers removes only the first: one per controller
    lib_cmd="cgcreate -g memory,cpu,pids:$P/x && $LIBCG -r memory.limit_in_bytes=64M -r cpu.cfs_period_us=100000 -r cpu.cfs_quota_us=50000 -r pids.max=100 $P/x && cgdelete -g memory:$P/x && cgdelete -g cpu:$P/x && cgdelete -g pids:$P/x"
fi
echo "cgroup mode: $mode; $(cgset --version); libcgroup $(dpkg-query -W -f '${Version}' cgroup-tools 2>/dev/null || echo '?')"

compare "create + set memory,cpus,pids + delete" "$RUNS" \
    "cgset create --memory --cpus --pids; delete" "cgset create $P/x --memory 64M --cpus 0.5 --pids 100 && cgset delete $P/x" \
    "cgset create; cgset set ...; cgset delete" "cgset create $P/x && cgset set $P/x --memory 64M --cpus 0.5 --pids 100 && cgset delete $P/x" \
    "libcgroup cgcreate; cgset; cgdelete" "$lib_cmd" \
    "sh: mkdir; echo > ...; rmdir" "$sh_cmd"
