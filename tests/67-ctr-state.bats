#!/usr/bin/env bats
# ctr-state: the launcher's state folders. claim is exclusive; lock is held by the caller's
# descriptor (and its children's) after ctr-state exits; rm removes nothing while something
# is mounted in the folder, and never follows a symlink out of it. Mounts happen in private
# mount namespaces that end with the test.

load helpers

setup() {
    D="$TEST_DIR/t$BATS_TEST_NUMBER"
    mkdir -p "$D"
}

teardown() {
    ctrkit_teardown
    rm -rf --one-file-system "$D"
}

@test "claim: one of eight concurrent claims of a name wins; --parents makes the parents" {
    for i in 1 2 3 4 5 6 7 8; do
        (ctr-state claim --parents "$D/containers/web" 2>"$D/err.$i" && echo won >"$D/won.$i") &
    done
    wait
    [ -d "$D/containers/web" ]
    assert_eq "$(cat "$D"/won.* | wc -l)" 1
    # the seven others said why, one line each
    assert_eq "$(grep -l "ctr-state: error: $D/containers/web: already exists" "$D"/err.* | wc -l)" 7
    run_tool --rc 1 ctr-state claim "$D/nope/x"
    assert_error ctr-state "cannot create $D/nope/x"
    [ ! -e "$D/nope" ]
}

@test "lock: held by the caller's descriptor after ctr-state exits, and by its children" {
    mkdir "$D/c"
    # the caller locks through ctr-state, starts a child (which inherits the descriptor)
    # and exits: the child alone holds the lock then
    sh -c "exec 9<'$D/c' && ctr-state lock 9 && { sleep 30 & echo \$! >'$D/child'; }"
    child=$(cat "$D/child")
    track_pid "$child"
    run_tool --rc 1 flock -n "$D/c" true
    run_tool --rc 1 sh -c "exec 8<'$D/c' && ctr-state lock --nonblock 8"
    assert_error ctr-state "file descriptor 8 is locked by another process"
    # a waiter gets the lock once the child has ended
    sh -c "exec 8<'$D/c' && ctr-state lock 8 && echo locked >'$D/waiter'" &
    waiter=$!
    sleep 0.2
    [ ! -e "$D/waiter" ]
    kill "$child"
    wait "$waiter"
    assert_eq "$(cat "$D/waiter")" locked
    run_tool --rc 1 ctr-state lock 57
    assert_error ctr-state "file descriptor 57 is not open"
}

@test "rm: removes the tree, not what its symlinks point to; a missing folder is fine" {
    mkdir -p "$D/outside" "$D/s/a/b"
    echo keep >"$D/outside/file"
    ln -s "$D/outside" "$D/s/a/link"
    ln -s "$D/outside/file" "$D/s/flink"
    echo x >"$D/s/a/b/f"
    run_tool ctr-state rm "$D/s" "$D/missing"
    [ ! -e "$D/s" ]
    assert_eq "$(cat "$D/outside/file")" keep
    # a symlink given as DIR is refused, and left alone
    ln -s "$D/outside" "$D/l"
    run_tool --rc 1 ctr-state rm "$D/l"
    assert_error ctr-state "$D/l: not a folder"
    [ -L "$D/l" ] && [ -f "$D/outside/file" ]
    # --unlink: the files (a symlink itself, not what it points to) once the folder is gone;
    # a folder there is refused before anything is removed
    mkdir -p "$D/s2" "$D/idx"
    echo s2 >"$D/idx/entry"
    run_tool --rc 1 ctr-state rm "$D/s2" --unlink "$D/idx"
    assert_error ctr-state "$D/idx: a folder, not a file"
    [ -d "$D/s2" ] && [ -f "$D/idx/entry" ]
    run_tool ctr-state rm "$D/s2" --unlink "$D/idx/entry" --unlink "$D/l" --unlink "$D/idx/missing"
    [ ! -e "$D/s2" ] && [ ! -e "$D/idx/entry" ] && [ ! -L "$D/l" ] && [ -f "$D/outside/file" ]
}

@test "rm: refuses, removing nothing, while something is mounted in the folder" {
    require_root
    mkdir -p "$D/s/merged" "$D/s/ns" "$D/s/deep/er" "$D/src"
    echo precious >"$D/src/data"
    echo log >"$D/s/undo"
    touch "$D/s/deep/er/net"
    # a tmpfs, a bind mount of the same filesystem (same device: only the mount id tells it
    # apart), and a pinned namespace deeper down (a file bind-mounted with an nsfs file)
    run_tool unshare -m --propagation private sh -c "
        mount -t tmpfs t '$D/s/merged' && mount --bind '$D/src' '$D/s/ns' &&
        mount --bind /proc/self/ns/net '$D/s/deep/er/net' &&
        ctr-state rm '$D/s'; echo rc=\$?; ls '$D/s'; cat '$D/src/data'"
    assert_contains "$output" "rc=1"
    assert_contains "$stderr" "ctr-state: error: not removing $D/s: still mounted: $D/s/deep/er/net $D/s/merged $D/s/ns"
    assert_contains "$output" "undo"
    assert_contains "$output" "precious"
    # the folder itself a mount point: refused, its contents kept
    run_tool unshare -m --propagation private sh -c "
        mount --bind '$D/s' '$D/s' && ctr-state rm '$D/s'; echo rc=\$?; ls '$D/s'"
    assert_contains "$output" "rc=1"
    assert_contains "$stderr" "ctr-state: error: not removing $D/s: still mounted: $D/s"
    assert_contains "$output" "undo"
    # outside that namespace nothing is mounted there: now it goes
    run_tool ctr-state rm "$D/s"
    [ ! -e "$D/s" ] && [ -f "$D/src/data" ]
}

@test "pid, kill, log: bad input is one line naming it, and nothing is signalled or written" {
    # no such folder, or a folder without a pid: the container does not run
    run_tool --rc 1 ctr-state pid "$D/nope"
    assert_error ctr-state "$D/nope"
    mkdir -p "$D/c"
    echo not-a-pid >"$D/c/pid"
    run_tool --rc 1 ctr-state kill "$D/c" TERM
    assert_error ctr-state "not a pid"
    # a live process that is not the container's (started after its pidfile): refused
    sleep 300 3>&- &
    track_pid $!
    echo $! >"$D/c/pid"
    touch -d '-10 seconds' "$D/c/pid"
    run_tool --rc 1 ctr-state kill "$D/c" KILL
    assert_error ctr-state "not the container's"
    kill -0 "$!"
    run_tool --rc 2 ctr-state kill "$D/c" BOGUS
    assert_error ctr-state "BOGUS"
    run_tool --rc 2 ctr-state log "$D/log" --max-size lots </dev/null
    assert_error ctr-state "lots"
    run_tool --rc 2 ctr-state log "$D/log" --max-size 0 </dev/null
    assert_error ctr-state "above 0"
    run_tool --rc 2 ctr-state log "$D/log" --max-file 0 </dev/null
    [ ! -e "$D/log" ]
    # a log whose folder cannot be made (a file is in the way)
    : >"$D/file"
    run_tool --rc 1 ctr-state log "$D/file/log" </dev/null
    assert_error ctr-state "$D/file"
}

@test "log: rotation keeps COUNT files of about SIZE, oldest first in order, files 0600" {
    seq 1 200000 | ctr-state log "$D/logs/log" --max-size 256k --max-file 3
    assert_eq "$(stat -c %a "$D/logs")" 700
    assert_eq "$(stat -c %a "$D/logs/log")" 600
    [ ! -e "$D/logs/log.3" ]
    cat "$D/logs/log.2" "$D/logs/log.1" "$D/logs/log" >"$D/all"
    # the last line whole, and the numbers in order without a gap
    assert_eq "$(tail -n 1 "$D/all")" 200000
    first=$(head -n 1 "$D/all")
    assert_eq "$(grep -c '' "$D/all")" "$((200000 - first + 1))"
    # whole lines in every file, wherever the pipe split them; a file passes SIZE by
    # less than a line
    for f in log.2 log.1 log; do
        [ ! -s "$D/logs/$f" ] || assert_eq "$(tail -c 1 "$D/logs/$f" | od -An -c | tr -d ' ')" '\n'
    done
    [ "$(stat -c %s "$D/logs/log.1")" -le $((262144 + 7)) ]
}

@test "log: relaying, ctr-state keeps little of its code resident (RSS, OOM score)" {
    local fifo=$D/in p
    mkfifo "$fifo"
    ctr-state log "$D/log" --max-size 1m <"$fifo" 3>&- &
    p=$!
    track_pid "$p"
    exec 7>"$fifo"
    # (settled: the log file made, waiting for its first line)
    local i=0
    until [ -e "$D/log" ] || [ $i -ge 100 ]; do sleep 0.05 && i=$((i + 1)); done
    sleep 0.3
    local size rss
    read -r size rss < <(awk '/^[0-9a-f]+-/ { perm = $2; file = $6 }
        /^Size:/ { size = $2 }
        /^Rss:/ { if (perm == "r-xp" && file ~ /ctr-state/) print size, $2 }' "/proc/$p/smaps")
    echo one >&7
    echo two >&7
    exec 7>&-
    wait "$p"
    # the lines still arrive; its code was dropped from its page tables once it settled
    # (without the drop ~87% of the mapping stays; the read it then waits in brings ~50% back)
    assert_eq "$(cat "$D/log")" "one
two"
    echo "code mapping ${size} KiB, resident ${rss} KiB" >&2
    [ "$rss" -lt $((size * 3 / 4)) ]
}

@test "wait: the first child's status goes to DIR/exit at once, the others are waited for, then CMD gets it" {
    mkdir -p "$D/c"
    echo abc >"$D/c/id"
    # A shell execs into it right after starting the child, as the monitor does: the
    # children stay its own. strace holds the shell 0.2 s after each fork, so the child has
    # ended before the exec: its status is still there to collect.
    strace -o /dev/null -e trace=clone -e inject=clone:delay_exit=200000 sh -c '
        sleep 3 & b=$!; echo $b >"$1/b"
        sh -c "exit 3" &
        exec ctr-state wait "$1" --id abc "$!" "$b" -- sh -c "echo \"\$*\" >\"\$0\"" "$1/then" one' _ "$D/c" 3>&- &
    track_pid $!
    # the status is there while the second child still runs; CMD only after it ended
    wait_for_file "$D/c/exit"
    assert_eq "$(cat "$D/c/exit")" 3
    kill -0 "$(cat "$D/c/b")"
    [ ! -e "$D/c/then" ]
    wait_for_file "$D/c/then"
    assert_eq "$(cat "$D/c/then")" "one 3"
    ! kill -0 "$(cat "$D/c/b")" 2>/dev/null
    [ ! -e "$D/c/.exit.tmp" ]

    # killed by a signal: 128 + it; another container's folder (--id differs): not written
    rm "$D/c/exit" "$D/c/then"
    sh -c 'sleep 100 & kill -KILL $!; exec ctr-state wait "$1" --id other $! -- sh -c "echo \$1 >\"\$0\"" "$1/then"' _ "$D/c" 3>&-
    assert_eq "$(cat "$D/c/then")" 137
    [ ! -e "$D/c/exit" ]
    # not a child of ours: 127, as sh's wait says
    ctr-state wait "$D/c" 1 -- sh -c 'echo $1 >"$0"' "$D/c/then"
    assert_eq "$(cat "$D/c/then")" 127
    assert_eq "$(cat "$D/c/exit")" 127

    # bad input: one line, nothing written; a CMD that cannot run is one line too
    rm "$D/c/exit"
    run_tool --rc 2 ctr-state wait "$D/c" 0 -- true
    assert_error ctr-state "0"
    run_tool --rc 2 ctr-state wait "$D/c" 12 --
    [ ! -e "$D/c/exit" ]
    run_tool --rc 1 ctr-state wait "$D/c" 1 -- "$D/no-such-program"
    assert_error ctr-state "$D/no-such-program"
}
