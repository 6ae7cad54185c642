# helpers.bash - shared bats helpers for ctrkit's shell-level tests.
#
# Each test file: `load helpers` and, when it needs its own setup, call the ctrkit_* ones.
# Every file gets its own CTRKIT_ROOT/CTRKIT_STATE (under the run's temp dir, so the leak
# check can look at them) and its own cgroup parent, TEST_CGROUP (relative to a hierarchy
# root). Background processes a test starts are registered with track_pid and killed, by
# pid, in teardown.
# shellcheck shell=bash

bats_require_minimum_version 1.5.0

CTRKIT_SRC=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
CTRKIT_BIN=${CTRKIT_BIN:-${CARGO_TARGET_DIR:-$CTRKIT_SRC/target}/${CARGO_BUILD_TARGET:-x86_64-unknown-linux-musl}/debug}
export CTRKIT_SRC CTRKIT_BIN
export PATH="$CTRKIT_BIN:$CTRKIT_SRC/scripts:$PATH"

TEST_NAME=$(basename "$BATS_TEST_FILENAME" .bats)

ctrkit_setup_file() {
    local base=${CTRKIT_TEST_TMP:-$BATS_FILE_TMPDIR}
    export TEST_DIR="$base/$TEST_NAME"
    mkdir -p "$TEST_DIR/root" "$TEST_DIR/state"
    export CTRKIT_ROOT="$TEST_DIR/root" CTRKIT_STATE="$TEST_DIR/state"
    export TEST_CGROUP="${CTRKIT_TEST_CGROUP:-ctrkit-test-$$}/$TEST_NAME"
    export PIDFILE="$TEST_DIR/tracked-pids"
    : >"$PIDFILE"
}

ctrkit_teardown_file() {
    kill_tracked
    # the template mount namespace ctr-run pinned for its containers (nsenter-rs --mnt-template)
    [ ! -e "${CTRKIT_STATE-}/template/mnt" ] || nsenter-rs --unpin "$CTRKIT_STATE/template" 2>/dev/null || true
    # the file's own cgroup parent, only if the tests emptied it (else the leak check reports it)
    rmdir /sys/fs/cgroup/*/"$TEST_CGROUP" /sys/fs/cgroup/"$TEST_CGROUP" 2>/dev/null || true
    # run by bats directly (not tests/run.sh): the per-run parent too, once empty
    if [ -z "${CTRKIT_TEST_CGROUP-}" ]; then
        rmdir /sys/fs/cgroup/*/"${TEST_CGROUP%/*}" /sys/fs/cgroup/"${TEST_CGROUP%/*}" 2>/dev/null || true
    fi
}

ctrkit_setup() { :; }

ctrkit_teardown() {
    kill_tracked
}

setup_file() { ctrkit_setup_file; }
teardown_file() { ctrkit_teardown_file; }
setup() { ctrkit_setup; }
teardown() { ctrkit_teardown; }

# --- processes ----------------------------------------------------------------------------

# track_pid PID... : kill these (by pid) in teardown
track_pid() {
    local p
    for p in "$@"; do echo "$p" >>"$PIDFILE"; done
}

kill_tracked() {
    [ -f "${PIDFILE-}" ] || return 0
    local p
    while read -r p; do
        [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true
    done <"$PIDFILE"
    while read -r p; do
        [ -n "$p" ] || continue
        local i=0
        while [ -d "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] && [ $i -lt 100 ]; do
            sleep 0.05; i=$((i + 1))
        done
        wait "$p" 2>/dev/null || true
    done <"$PIDFILE"
    : >"$PIDFILE"
}

# --- running tools ------------------------------------------------------------------------

# run_tool [--rc N|any] CMD... : run CMD under a timeout (CTRKIT_TEST_TIMEOUT, default 60 s)
# with stdout in $output and stderr in $stderr; fail unless it exits N (default 0).
run_tool() {
    local want=0
    if [ "$1" = --rc ]; then
        want=$2
        shift 2
    fi
    run --separate-stderr timeout --kill-after=5 "${CTRKIT_TEST_TIMEOUT:-60}" "$@"
    if [ "$want" != any ] && [ "$status" -ne "$want" ]; then
        echo "command: $*" >&2
        echo "expected exit status $want, got $status" >&2
        echo "stdout: $output" >&2
        echo "stderr: $stderr" >&2
        return 1
    fi
    if [[ "$stderr" == *"panicked at"* ]]; then
        echo "command panicked: $*" >&2
        echo "stderr: $stderr" >&2
        return 1
    fi
}

# --- assertions ---------------------------------------------------------------------------

assert_eq() {
    if [ "$1" != "$2" ]; then
        echo "expected: '$2'" >&2
        echo "actual:   '$1'" >&2
        [ -z "${3-}" ] || echo "($3)" >&2
        return 1
    fi
}

# assert_match STRING REGEX
assert_match() {
    if ! [[ "$1" =~ $2 ]]; then
        echo "'$1' does not match /$2/" >&2
        return 1
    fi
}

# assert_contains HAYSTACK NEEDLE
assert_contains() {
    if [[ "$1" != *"$2"* ]]; then
        echo "'$1' does not contain '$2'" >&2
        return 1
    fi
}

# assert_json JQ_EXPR EXPECTED [JSON] : jq -r EXPR over JSON (default: $output)
assert_json() {
    local got
    got=$(printf '%s' "${3-$output}" | jq -r "$1") || {
        echo "not JSON, or jq failed on '$1': ${3-$output}" >&2
        return 1
    }
    assert_eq "$got" "$2" "jq '$1'"
}

# assert_error TOOL [SUBSTRING] : stderr is exactly one line 'TOOL: error: ...'
assert_error() {
    local n
    n=$(printf '%s\n' "$stderr" | grep -c '')
    if [ "$n" -ne 1 ] || [[ "$stderr" != "$1: error: "* ]]; then
        echo "expected one line '$1: error: ...' on stderr, got:" >&2
        echo "$stderr" >&2
        return 1
    fi
    [ -z "${2-}" ] || assert_contains "$stderr" "$2"
}

# --- privileges and features --------------------------------------------------------------

require_root() {
    [ "$(id -u)" = 0 ] || skip "requires root"
}

require_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || skip "requires $c"
    done
}

# --- namespaces ---------------------------------------------------------------------------

# create_test_host : a fresh network + mount namespace acting as "the test host".
# Sets TEST_HOST_PID; run commands in it with in_host. Nothing touches the real host network.
create_test_host() {
    unshare -nm --propagation private sleep infinity 3>&- &
    TEST_HOST_PID=$!
    track_pid "$TEST_HOST_PID"
    local i=0
    while [ "$(readlink "/proc/$TEST_HOST_PID/ns/net" 2>/dev/null)" = "$(readlink /proc/self/ns/net)" ] ||
        [ "$(readlink "/proc/$TEST_HOST_PID/ns/mnt" 2>/dev/null)" = "$(readlink /proc/self/ns/mnt)" ]; do
        i=$((i + 1))
        [ $i -lt 200 ] || { echo "test host did not start" >&2; return 1; }
        sleep 0.01
    done
    export TEST_HOST_PID
    in_host ip link set lo up
}

# in_host CMD... : run CMD in the test host's network and mount namespaces
in_host() {
    nsenter -t "$TEST_HOST_PID" -n -m "$@"
}

# in_private_mnt CMD... : run CMD in a private mount namespace of its own
in_private_mnt() {
    unshare -m --propagation private "$@"
}

# wait_for_file FILE : until FILE exists and is non-empty (5 s)
wait_for_file() {
    local i=0
    while [ ! -s "$1" ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "$1 did not appear" >&2; return 1; }
        sleep 0.05
    done
}

# --- root filesystems ---------------------------------------------------------------------

# make_busybox_rootfs DIR : a static busybox root filesystem (~2 MB, no network needed)
make_busybox_rootfs() {
    local dir=$1 bb=/bin/busybox a
    mkdir -p "$dir"/bin "$dir"/sbin "$dir"/usr/bin "$dir"/usr/sbin "$dir"/proc "$dir"/sys \
        "$dir"/dev "$dir"/tmp "$dir"/etc "$dir"/root "$dir"/var "$dir"/run
    chmod 1777 "$dir/tmp"
    cp "$bb" "$dir/bin/busybox"
    for a in $("$bb" --list-full); do
        [ -e "$dir/$a" ] || ln -s /bin/busybox "$dir/$a"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$dir/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
}
