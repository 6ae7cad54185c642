#!/usr/bin/env bats
# nsenter-rs --tty: the command's own pty (from the container's devpts), its controlling
# terminal and /dev/console, relayed to the caller; the exit status stays the command's.
# (The terminal side -- raw mode, window size, restore -- is tested from tmux in
# tests/69-ctr-tty.bats.)

load helpers

# no_cr : $output and $lines without the pty's carriage returns (it turns \n into \r\n)
no_cr() {
    output=${output//$'\r'/}
    mapfile -t lines <<<"$output"
}

setup_file() {
    ctrkit_setup_file
    make_busybox_rootfs "$TEST_DIR/rootfs"
    export R="$TEST_DIR/rootfs"
}

@test "create mode --tty: stdio is /dev/pts/0 of the container's own devpts, its controlling terminal and /dev/console" {
    require_root
    # stdin /dev/null, stdout a pipe: no terminal here at all; the output comes through the pty
    run_tool nsenter-rs --new=pid,mnt,uts,ipc --rootfs "$R" --tty -- sh -c '
        tty; readlink /proc/self/fd/1; readlink /proc/self/fd/2
        echo "sid-tty $(cut -d" " -f6,7 /proc/self/stat)"
        ls /dev/pts | tr "\n" " "; echo
        [ /dev/console -ef /dev/pts/0 ] && echo CONSOLE-IS-PTS0
        exec 3<>/dev/tty && echo VIA-DEV-TTY >&3' </dev/null
    no_cr
    assert_eq "$(printf '%s\n' "$output" | sed -n 1,3p | tr '\n' ' ')" "/dev/pts/0 /dev/pts/0 /dev/pts/0 "
    # session 1 (the command leads it), controlling tty 136:0 = (136 << 8) | 0
    assert_contains "$output" "sid-tty 1 34816"
    # a devpts of its own: only its pty, none of the host's
    assert_contains "$output" "0 ptmx "
    assert_contains "$output" CONSOLE-IS-PTS0
    # /dev/tty is the pty: here, with no terminal around, only it can carry this out
    assert_eq "$(printf '%s\n' "$output" | tail -n 1)" VIA-DEV-TTY
}

@test "create mode without --tty: no pty, no console (the switch is what makes them)" {
    require_root
    run_tool nsenter-rs --new=pid,mnt,uts,ipc --rootfs "$R" -- sh -c \
        'tty; [ -e /dev/console ] && echo HAS-CONSOLE; cut -d" " -f7 /proc/self/stat' </dev/null
    assert_eq "$output" "not a tty
0"
}

@test "--tty relays stdin to the command and keeps its exit status (also with --init)" {
    require_root
    run_tool --rc 5 sh -c "printf 'echo IN-\$((6*7))\nexit 5\n' |
        nsenter-rs --new=pid,mnt,uts,ipc --rootfs '$R' --tty -- sh"
    assert_contains "$output" IN-42
    run_tool --rc 6 sh -c "printf 'tty; echo PID-\$\$\nexit 6\n' |
        nsenter-rs --new=pid,mnt,uts,ipc --rootfs '$R' --tty --init -- sh"
    no_cr
    assert_contains "$output" /dev/pts/0
    assert_contains "$output" PID-2
    # a command that is killed: 128 + the signal, as without --tty (under --init: pid 1
    # cannot be killed from inside)
    run_tool --rc 137 nsenter-rs --new=pid,mnt --rootfs "$R" --tty --init -- sh -c 'kill -9 $$' </dev/null
}

@test "--tty: a command that cannot start reports as without it (127), nothing hangs" {
    require_root
    run_tool --rc 127 nsenter-rs --new=pid,mnt --rootfs "$R" --tty -- /no/such/cmd </dev/null
    assert_contains "$output$stderr" /no/such/cmd
    # with the parent's handshake (--pidfile): the error comes over the report pipe
    run_tool --rc 127 nsenter-rs --new=pid,mnt --rootfs "$R" --tty --pidfile "$TEST_DIR/x.pid" -- /no/such/cmd </dev/null
    assert_error nsenter-rs /no/such/cmd
    [ ! -e "$TEST_DIR/x.pid" ]
}

@test "enter mode --tty: a pty of the target's devpts, a new session it controls" {
    require_root
    nsenter-rs --new=pid,mnt,uts,ipc --rootfs "$R" --pidfile "$TEST_DIR/t.pid" -- sleep 300 </dev/null &
    track_pid $!
    wait_for_file "$TEST_DIR/t.pid"
    local p
    p=$(cat "$TEST_DIR/t.pid")
    run_tool --rc 3 nsenter-rs -t "$p" -a --tty sh -c \
        'tty; echo "tty_nr $(cut -d" " -f7 /proc/self/stat)"; ls /dev/pts | tr "\n" " "; echo; exit 3' </dev/null
    no_cr
    assert_eq "${lines[0]}" /dev/pts/0
    assert_eq "${lines[1]}" "tty_nr 34816"
    assert_eq "${lines[2]}" "0 ptmx "
    # the pty is gone with the command: the container's devpts is empty again
    assert_eq "$(ls "/proc/$p/root/dev/pts" | tr '\n' ' ')" "ptmx "
    kill_tracked
}

@test "--tty-socket holds the terminal: output to stdout (a log), --attach relays input and gets the exit status" {
    require_root
    local sock=$TEST_DIR/held.sock log=$TEST_DIR/held.log
    nsenter-rs --new=pid,mnt,uts,ipc --rootfs "$R" --tty --tty-socket "$sock" \
        --pidfile "$TEST_DIR/h.pid" -- sh </dev/null >"$log" 2>&1 &
    track_pid $!
    wait_for_file "$TEST_DIR/h.pid"
    # listening before the pidfile was written; only its owner may connect
    [ -S "$sock" ]
    assert_eq "$(stat -c %a "$sock")" 600
    # stdin a pipe, not a terminal: no raw mode, the input still goes through
    run_tool --rc 3 sh -c "printf 'tty; echo HI-\$((6*7))\nexit 3\n' | nsenter-rs --attach '$sock'"
    no_cr
    assert_contains "$output" /dev/pts/0
    assert_contains "$output" HI-42
    # the holder ended with the container and removed its socket; the log has it all
    for _ in $(seq 100); do [ -e "$sock" ] && sleep 0.05; done
    [ ! -e "$sock" ]
    assert_contains "$(cat "$log")" HI-42
    run_tool --rc 125 nsenter-rs --attach "$sock"
    assert_error nsenter-rs "cannot attach to terminal socket $sock"
    kill_tracked
}

@test "--tty-socket needs --tty and create mode; --attach takes nothing else" {
    run_tool --rc 2 nsenter-rs --new=pid --tty-socket /x.sock -- true
    run_tool --rc 2 nsenter-rs -t 1 -a --tty --tty-socket /x.sock true
    assert_error nsenter-rs "--tty-socket is a create-mode option"
    run_tool --rc 2 nsenter-rs --attach /x.sock -- true
    assert_error nsenter-rs "--attach PATH takes no other options or command"
}
