#!/usr/bin/env bash
# run.sh - run the bats suite (or the files given) inside a leak check.
#
# Usage: tests/run.sh [FILE.bats...]
#
# Before the run it snapshots mounts, network links, network namespaces and processes, and
# gives the run a unique cgroup parent (CTRKIT_TEST_CGROUP) and temp dir (CTRKIT_TEST_TMP).
# After the run anything new is a leak: mounts, links, netns, cgroups under the test parent,
# container state folders, and processes the tests started (marked by an environment token,
# by the test cgroup, or living in another pid namespace). Leaks are listed, cleaned up where
# that is safe (only what the run itself made), and fail the run.
# Prints bats' TAP output, then `N passed, N failed, N skipped`. Exit status: 0 when all
# passed and nothing leaked.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.." || exit 1

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
    for f in tests/[0-9]*.bats; do
        [ "$f" = tests/99-leak-demo.bats ] || files+=("$f")
    done
fi

run_id=$$-$(date +%s)
export CTRKIT_TEST_TMP
CTRKIT_TEST_TMP=$(mktemp -d /tmp/ctrkit-test.XXXXXX)
export CTRKIT_TEST_CGROUP="ctrkit-test-$run_id"
export CTRKIT_LEAKCHECK_TOKEN="ctrkit-leakcheck-$run_id"

snap_mounts() { awk '{print $5, $9}' /proc/self/mountinfo | sort; }
snap_links() { ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | sort; }
snap_netns() { ip netns list 2>/dev/null | awk '{print $1}' | sort; }
snap_pids() { find /proc -maxdepth 1 -name '[0-9]*' -printf '%f\n' | sort; }

mounts_before=$(snap_mounts)
links_before=$(snap_links)
netns_before=$(snap_netns)
pids_before=$(snap_pids)
my_pidns=$(readlink /proc/self/ns/pid)

out="$CTRKIT_TEST_TMP/bats.tap"
# The token is in the environment of every process the tests start (unless a test clears it).
env "$CTRKIT_LEAKCHECK_TOKEN=1" timeout --kill-after=30 "${CTRKIT_SUITE_TIMEOUT:-3600}" \
    bats --tap "${files[@]}" 2>&1 | tee "$out"
bats_rc=${PIPESTATUS[0]}

# Give processes a moment to exit after their tests ended.
sleep 0.5

leaks=()
leak() { leaks+=("$1"); }

# processes
while read -r p; do
    [ -d "/proc/$p" ] || continue
    [ "$p" = "$$" ] && continue
    mark=''
    if tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -q "^$CTRKIT_LEAKCHECK_TOKEN="; then
        mark='env'
    elif grep -q "$CTRKIT_TEST_CGROUP" "/proc/$p/cgroup" 2>/dev/null; then
        mark='cgroup'
    elif [ -n "$(tr -d '\0' 2>/dev/null <"/proc/$p/cmdline")" ] &&
        [ "$(readlink "/proc/$p/ns/pid" 2>/dev/null)" != "$my_pidns" ] &&
        [ -n "$(readlink "/proc/$p/ns/pid" 2>/dev/null)" ]; then
        mark='pidns'
    fi
    [ -n "$mark" ] || continue
    # skip our own pipeline (subshells of this script)
    ppid=$(awk '/^PPid:/{print $2}' "/proc/$p/status" 2>/dev/null)
    [ "$ppid" = "$$" ] && continue
    leak "process $p ($mark): $(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | cut -c1-100)"
    kill -KILL "$p" 2>/dev/null
done < <(comm -13 <(echo "$pids_before") <(snap_pids))

# mounts
while read -r m; do
    [ -n "$m" ] || continue
    leak "mount: $m"
    mp=${m%% *}
    case $mp in "$CTRKIT_TEST_TMP"/* | /tmp/ctrkit-* | /run/ctrkit-test*) umount -l "$mp" 2>/dev/null ;; esac
done < <(comm -13 <(echo "$mounts_before") <(snap_mounts))

# links and network namespaces on the real host
while read -r l; do [ -n "$l" ] && leak "network link on the host: $l"; done \
    < <(comm -13 <(echo "$links_before") <(snap_links))
while read -r n; do [ -n "$n" ] && leak "network namespace: $n"; done \
    < <(comm -13 <(echo "$netns_before") <(snap_netns))

# cgroups under the test parent, in every hierarchy
for parent in /sys/fs/cgroup/*/"$CTRKIT_TEST_CGROUP" /sys/fs/cgroup/"$CTRKIT_TEST_CGROUP"; do
    [ -d "$parent" ] || continue
    while read -r d; do
        [ "$d" = "$parent" ] && continue
        leak "cgroup: $d"
    done < <(find "$parent" -mindepth 1 -type d 2>/dev/null)
    # remove bottom-up: only what this run created
    find "$parent" -depth -type d -exec rmdir {} \; 2>/dev/null
    [ ! -d "$parent" ] || leak "cgroup (could not remove): $parent"
done

# container state folders left in any test file's state dir
while read -r d; do
    [ -n "$d" ] && leak "container state: $d"
done < <(find "$CTRKIT_TEST_TMP" -mindepth 4 -maxdepth 4 -path '*/state/containers/*' 2>/dev/null)

# nftables tables made by ctrkit in the host namespace
if command -v nft >/dev/null 2>&1; then
    while read -r t; do [ -n "$t" ] && leak "nftables table on the host: $t"; done \
        < <(nft list tables 2>/dev/null | grep -i ctrkit)
fi

passed=$(grep -cE '^ok [0-9]+' "$out" | head -1)
skipped=$(grep -cE '^ok [0-9]+ .*# skip' "$out" | head -1)
failed=$(grep -cE '^not ok [0-9]+' "$out" | head -1)
passed=$((passed - skipped))

if [ ${#leaks[@]} -gt 0 ]; then
    echo "leak check: FAILED, ${#leaks[@]} thing(s) left behind by the tests:"
    printf '  %s\n' "${leaks[@]}"
    failed=$((failed + 1))
else
    echo "leak check: clean (mounts, links, netns, cgroups, state, processes)"
fi
# leaked mounts under it were detached above
[ "${CTRKIT_TEST_KEEP:-0}" = 1 ] || rm -rf --one-file-system "$CTRKIT_TEST_TMP"

echo "bats: $passed passed, $failed failed, $skipped skipped"
[ "$bats_rc" -eq 0 ] && [ ${#leaks[@]} -eq 0 ]
