#!/usr/bin/env bats
# The launcher scripts as programs: help, usage errors, lint, installation, and the undo log
# of lib.sh replayed for real. No ctrkit tool is needed here.

load helpers
load 60-ctr-helpers

SCRIPTS="ctr-run ctr-create ctr-start ctr-restart ctr-exec ctr-attach ctr-stop ctr-rm ctr-ls ctr-logs ctr-commit ctr-images ctr-load ctr-inspect ctr-kill ctr-pause ctr-unpause ctr-wait ctr-top ctr-port ctr-update ctr-cp ctr-pull ctr-push ctr-tag ctr-login ctr-stats ctr-rename ctr-boot mkimage-busybox"

setup_file() { ctr_setup_file; }
teardown_file() { ctr_teardown_file; }
teardown() { ctr_teardown; }

@test "every script answers --help on stdout, exit 0" {
    for s in $SCRIPTS; do
        run_tool "$s" --help
        assert_contains "$output" "Usage: $s"
        assert_eq "$stderr" ""
    done
}

@test "a bad flag is one line 'SCRIPT: error: ...' naming it, exit 2 (ctr-run, ctr-create: 125)" {
    for s in $SCRIPTS; do
        rc=2
        case $s in ctr-run | ctr-create) rc=125 ;; esac
        run_tool --rc "$rc" "$s" --no-such-flag
        assert_error "$s" "--no-such-flag"
        assert_eq "$output" ""
    done
}

@test "scripts are POSIX sh and shellcheck clean" {
    require_cmd shellcheck
    cd "$CTRKIT_SRC"
    run_tool shellcheck -x scripts/lib*.sh scripts/ctr-* scripts/mkimage-busybox scripts/demo.sh bench/bench-ctr-run.sh
    for s in $SCRIPTS; do
        head -n 1 "scripts/$s" | grep -qx '#!/bin/sh'
        dash -n "scripts/$s"
    done
}

@test "installed scripts find lib.sh in PREFIX/lib/ctrkit" {
    prefix=$TEST_DIR/prefix
    mkdir -p "$prefix/bin" "$prefix/lib/ctrkit"
    for s in $SCRIPTS; do cp "$CTRKIT_SRC/scripts/$s" "$prefix/bin/"; done
    cp "$CTRKIT_SRC"/scripts/lib*.sh "$prefix/lib/ctrkit/"
    run_tool "$prefix/bin/ctr-rm" --help
    assert_contains "$output" "Usage: ctr-rm"
    # and through PATH, with no directory in $0's name
    PATH="$prefix/bin:/usr/bin:/bin" run_tool --rc 2 ctr-stop -t nonsense x
    assert_error ctr-stop "invalid grace period 'nonsense'"
}

@test "ctr-run refuses bad options with exit 125 and leaves nothing" {
    run_tool --rc 125 ctr-run
    assert_error ctr-run "no image given"
    run_tool --rc 125 ctr-run --network bogus busybox true
    assert_error ctr-run "network bogus not found"
    run_tool --rc 125 ctr-run --network none -p 80:80 busybox true
    assert_error ctr-run "--publish needs --network bridge"
    run_tool --rc 125 ctr-run --name 'bad/name' busybox true
    assert_error ctr-run "invalid container name 'bad/name'"
    run_tool --rc 125 ctr-run -v 'b@d:/x' busybox true
    assert_error ctr-run "-v b@d:/x: 'b@d' is neither an absolute host path nor a volume name"
    run_tool --rc 125 ctr-run -v /tmp:relative busybox true
    assert_error ctr-run "the destination 'relative' is not an absolute path"
    run_tool --rc 125 ctr-run -v :/x busybox true
    assert_error ctr-run "-v :/x: want [SRC:]DST[:OPTIONS]"
    run_tool --rc 125 ctr-run --mount type=bind,src=/no/such/dir,dst=/x busybox true
    assert_error ctr-run "bind source path '/no/such/dir' does not exist"
    run_tool --rc 125 ctr-run --env-file /no/such/file busybox true
    assert_error ctr-run "cannot read env file '/no/such/file'"
    run_tool --rc 125 ctr-run --memory
    assert_error ctr-run "option --memory needs a value"
    [ -z "$(ls -A "$CTRKIT_STATE/containers" 2>/dev/null)" ]
}

@test "ctr-rm, ctr-stop, ctr-logs, ctr-inspect on a missing container" {
    run_tool --rc 1 ctr-rm nosuch
    assert_error ctr-rm "no such container: nosuch"
    run_tool ctr-rm -f nosuch
    assert_eq "$stderr" ""
    run_tool --rc 1 ctr-stop nosuch
    assert_error ctr-stop "no such container: nosuch"
    run_tool --rc 1 ctr-logs nosuch
    assert_error ctr-logs "no such container: nosuch"
    run_tool --rc 1 ctr-inspect nosuch
    assert_error ctr-inspect "no such container: nosuch"
    run_tool --rc 125 ctr-exec nosuch true
    assert_error ctr-exec "no such container: nosuch"
}

@test "the undo log: replayed newest first, past failures, each reported, failures kept" {
    d=$TEST_DIR/undo-test
    mkdir -p "$d"
    log=$TEST_DIR/undo-order
    : >"$log"
    run_tool --rc 1 sh -c '
        lib=$CTRKIT_SRC/scripts/lib.sh && . "$lib"
        undo_add "$1" sh -c "echo first >>$2"; undo_ok "$1"
        undo_add "$1" sh -c "echo \"cannot undo second\" >&2; exit 3"; undo_ok "$1"
        undo_add "$1" sh -c "echo third >>$2"; undo_ok "$1"
        # recorded, never confirmed (the launcher died during the step): its failure is ignored
        undo_add "$1" false
        teardown "$1"' ctr-rm "$d" "$log"
    assert_eq "$(cat "$log")" "third
first"
    # one line for the failed confirmed step, none for the unconfirmed one
    assert_error ctr-rm "undo failed: sh -c echo \"cannot undo second\" >&2; exit 3: cannot undo second"
    # the folder stays, holding only what is still to undo
    [ -d "$d" ]
    assert_eq "$(grep -c pending "$d/undo")" 1
    grep -q 'cannot undo second' "$d/undo"
    # once it can be undone, the next teardown finishes the job
    printf 'pending\ttrue\nok\n' >"$d/undo"
    run_tool sh -c 'lib=$CTRKIT_SRC/scripts/lib.sh && . "$lib"; teardown "$1"' ctr-rm "$d"
    [ ! -e "$d" ]
}

@test "the undo log: a group's entries are undone side by side, each failure reported" {
    d=$TEST_DIR/undo-group
    mkdir -p "$d"
    log=$TEST_DIR/undo-group-order flag=$TEST_DIR/undo-group-flag
    : >"$log"
    rm -f "$flag"
    # the group's newest entry (first, were they undone one by one) waits for a file that
    # its oldest entry (last, one by one) makes: it only sees it when they run side by side
    run_tool --rc 1 sh -c '
        lib=$CTRKIT_SRC/scripts/lib.sh && . "$lib"
        undo_add "$1" sh -c "echo before >>$2"; undo_ok "$1"
        undo_group "$1"
        undo_add "$1" sh -c "touch $3; echo oldest >>$2"
        undo_add "$1" sh -c "echo \"cannot undo g\" >&2; exit 4"
        undo_add "$1" sh -c "i=0; while [ ! -e $3 ] && [ \$i -lt 100 ]; do sleep 0.05; i=\$((i+1)); done; [ -e $3 ] && echo saw >>$2"
        undo_group_end "$1"
        undo_ok "$1" 2; undo_ok "$1" 3; undo_ok "$1" 4
        teardown "$1"' ctr-rm "$d" "$log" "$flag"
    assert_eq "$(sort "$log" | tr '\n' ' ')" "before oldest saw "
    # the entry before the group is undone after the whole group
    assert_eq "$(tail -n 1 "$log")" before
    assert_error ctr-rm 'undo failed: sh -c echo "cannot undo g" >&2; exit 4: cannot undo g'
    # the failed entry stays for the next try
    assert_eq "$(grep -c pending "$d/undo")" 1
}

@test "teardown never deletes through a mount point in the state folder" {
    require_root
    d=$TEST_DIR/undo-mnt
    mkdir -p "$d/rootfs" "$TEST_DIR/precious"
    echo keep >"$TEST_DIR/precious/file"
    run_tool unshare -m --propagation private sh -c '
        mount --bind "$2" "$1/rootfs"
        lib=$CTRKIT_SRC/scripts/lib.sh && . "$lib"
        teardown "$1"
        echo "rc=$?"' ctr-rm "$d" "$TEST_DIR/precious"
    assert_contains "$output" "rc=1"
    assert_eq "$(cat "$TEST_DIR/precious/file")" keep
    rm -rf "$d"
}
