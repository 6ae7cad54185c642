#!/usr/bin/env bash
# run.sh - run the bats suite (or the files given) inside a leak check.
#
# Usage: tests/run.sh [FILE.bats...]
#
# Before the run it snapshots mounts, network links and network namespaces, and gives the
# run a unique cgroup parent (CTRKIT_TEST_CGROUP) and temp dir (CTRKIT_TEST_TMP). bats runs
# under tests/subreaper.py, a child subreaper, so every process the tests start stays in its
# subtree even when orphaned (container inits, daemons). After the run anything new is a
# leak: processes still in that subtree, mounts, links, netns, cgroups under the test parent,
# container state folders, ctrkit nftables tables on the host. Leaks are listed, cleaned up
# where that is safe (only what the run itself made), and fail the run.
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

snap_mounts() { awk '{print $5, $9}' /proc/self/mountinfo | sort; }
snap_links() { ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | sort; }
snap_netns() { ip netns list 2>/dev/null | awk '{print $1}' | sort; }

mounts_before=$(snap_mounts)
links_before=$(snap_links)
netns_before=$(snap_netns)

out="$CTRKIT_TEST_TMP/bats.tap"
python3 "$here/subreaper.py" "$CTRKIT_TEST_TMP/leftover-processes" -- \
    timeout --kill-after=30 "${CTRKIT_SUITE_TIMEOUT:-3600}" bats --tap "${files[@]}" 2>&1 | tee "$out"
bats_rc=${PIPESTATUS[0]}

leaks=()
leak() { leaks+=("$1"); }

# processes: everything the run started and left running (the subreaper kept them in its
# subtree, listed them and killed them)
while read -r p rest; do
    [ -n "$p" ] && leak "process $p: $rest"
done < <(cat "$CTRKIT_TEST_TMP/leftover-processes" 2>/dev/null)

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

# container state folders, and their ID index entries, left in any test file's state dir
while read -r d; do
    [ -n "$d" ] && leak "container state: $d"
done < <(find "$CTRKIT_TEST_TMP" -mindepth 4 -maxdepth 4 \( -path '*/state/containers/*' -o -path '*/state/ids/*' \) 2>/dev/null)

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
