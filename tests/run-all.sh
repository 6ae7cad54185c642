#!/usr/bin/env bash
# run-all.sh - the whole test suite, as `make test` runs it.
#
#   1. lint: cargo fmt --check, cargo clippy -D warnings, shellcheck
#   2. cargo test --workspace (root-only tests included when run as root)
#   3. the bats suite inside the leak check (tests/run.sh)
#   4. the cgroup v2 suite in a qemu VM with a pure cgroup v2 kernel (tests/vm/run-v2.sh),
#      when that runner exists and qemu can run here (CTRKIT_SKIP_VM=1 skips it)
#
# Ends with one line `N passed, N failed, N skipped` summed over every stage; a lint
# failure counts as one failed test. Exit status 0 only when nothing failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.." || exit 1

passed=0 failed=0 skipped=0
stage() { printf '\n=== %s (%s) ===\n' "$*" "$(date -u +%H:%M:%S)"; }
count_fail() { failed=$((failed + 1)); echo "FAILED: $*"; }

stage "lint"
cargo fmt --all --check || count_fail "cargo fmt --check"
cargo clippy --workspace --all-targets --quiet -- -D warnings || count_fail "cargo clippy"
shfiles=()
for f in scripts/* tests/*.sh tests/vm/*.sh bench/*.sh; do
    [ -f "$f" ] && shfiles+=("$f")
done
if [ ${#shfiles[@]} -gt 0 ]; then
    shellcheck -x "${shfiles[@]}" || count_fail "shellcheck"
fi

stage "build"
cargo build --workspace || { count_fail "cargo build"; echo "$passed passed, $failed failed, $skipped skipped"; exit 1; }

stage "cargo test"
extra=()
[ "$(id -u)" = 0 ] && extra=(-- --include-ignored)
log=$(mktemp)
cargo test --workspace "${extra[@]}" 2>&1 | tee "$log"
cargo_rc=${PIPESTATUS[0]}
read -r p f i < <(awk '/^test result:/{for(k=1;k<=NF;k++){if($k~/^passed/)p+=$(k-1);if($k~/^failed/)f+=$(k-1);if($k~/^ignored/)i+=$(k-1)}} END{print p+0, f+0, i+0}' "$log")
rm -f "$log"
passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + i))
[ "$cargo_rc" -eq 0 ] || [ "$f" -gt 0 ] || count_fail "cargo test (exit $cargo_rc)"

stage "bats (with leak check)"
log=$(mktemp)
tests/run.sh 2>&1 | tee "$log"
bats_rc=${PIPESTATUS[0]}
read -r p f s < <(awk '/^bats: [0-9]+ passed/{print $2, $4, $6}' "$log" | tail -1)
rm -f "$log"
passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
[ "$bats_rc" -eq 0 ] || [ "${f:-0}" -gt 0 ] || count_fail "bats (exit $bats_rc)"

if [ -x tests/vm/run-v2.sh ] && [ "${CTRKIT_SKIP_VM:-0}" != 1 ]; then
    stage "cgroup v2 suite (qemu)"
    log=$(mktemp)
    tests/vm/run-v2.sh 2>&1 | tee "$log"
    vm_rc=${PIPESTATUS[0]}
    read -r p f s < <(awk '/^vm: [0-9]+ passed/{print $2, $4, $6}' "$log" | tail -1)
    rm -f "$log"
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
    [ "$vm_rc" -eq 0 ] || [ "${f:-0}" -gt 0 ] || count_fail "cgroup v2 suite (exit $vm_rc)"
fi

echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
