#!/usr/bin/env bats
# ctr-run -it and ctr-exec -it, from a real terminal: a tmux server of the test's own (its
# socket under $TEST_DIR) runs an interactive shell in a window of known size; keys go in
# with send-keys, the screen is read with capture-pane.

load helpers
load 60-ctr-helpers

setup_file() { ctr_setup_file; }
teardown_file() { ctr_teardown_file; }
teardown() {
    [ -z "${TSOCK-}" ] || tmux -S "$TSOCK" kill-server 2>/dev/null || true
    ctr_teardown
}

# term_start : the tmux server, a 100x30 window running bash without rc files (prompt '$ ')
term_start() {
    require_cmd tmux
    export TSOCK=$TEST_DIR/tmux.sock
    tmux -S "$TSOCK" -f /dev/null new-session -d -x 100 -y 30 \
        "env PS1='$ ' bash --norc --noprofile"
    tmux -S "$TSOCK" set-option -g status off
    wait_screen '^\$ '
}

# type TEXT : TEXT and Enter, as typed
type() {
    tmux -S "$TSOCK" send-keys -l "$1"
    tmux -S "$TSOCK" send-keys Enter
}

# screen : what the window shows (wrapped lines joined), without trailing blank lines
screen() {
    tmux -S "$TSOCK" capture-pane -p -J | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
}

# wait_screen REGEX : until a line of the screen matches (10 s at most)
wait_screen() {
    local i=0
    until screen | grep -qE -- "$1"; do
        i=$((i + 1))
        if [ $i -ge 200 ]; then
            echo "screen never showed /$1/:" >&2
            screen >&2
            return 1
        fi
        sleep 0.05
    done
}

# pane_size : "ROWS COLS" of the window's pane, as tmux sees it
pane_size() {
    tmux -S "$TSOCK" display-message -p '#{pane_height} #{pane_width}'
}

# line_after MARK : the screen line after the last one that is exactly MARK
line_after() {
    screen | awk -v m="$1" '$0 == m { getline; l = $0 } END { print l }'
}

@test "ctr-run -it: tty is /dev/pts/0, stty size is the window's, a resize reaches it, the terminal is restored" {
    need_run
    term_start
    type "stty -g >$TEST_DIR/stty.before; ctr-run -it --rm --network none --name tty1 busybox sh"
    wait_screen '^/ # '
    type 'echo M1; tty; stty size; echo M1-END'
    wait_screen '^M1-END'
    assert_eq "$(line_after M1)" /dev/pts/0
    assert_eq "$(screen | awk '$0 == "M1" { getline; getline; print }' | tail -n 1)" "$(pane_size)"
    assert_eq "$(pane_size)" "30 100"
    # the window changes size: SIGWINCH reaches ctr-run's nsenter-rs, which passes the size on
    tmux -S "$TSOCK" resize-window -x 120 -y 40
    sleep 0.3
    type 'echo M2; stty size; echo M2-END'
    wait_screen '^M2-END'
    assert_eq "$(line_after M2)" "40 120"
    type 'exit 7'
    wait_screen '^\$ $'
    type "echo rc=\$?; stty -g >$TEST_DIR/stty.after; echo M3-END"
    wait_screen '^M3-END'
    assert_contains "$(screen)" rc=7
    # echo, icanon and the rest are back as they were
    assert_eq "$(cat "$TEST_DIR/stty.after")" "$(cat "$TEST_DIR/stty.before")"
    no_leftovers tty1
}

@test "ctr-run -it: ctrl-c reaches the container's foreground process, not ctr-run" {
    need_run
    term_start
    type "ctr-run -it --rm --network none --name tty2 busybox sh"
    wait_screen '^/ # '
    type 'sleep 60'
    sleep 0.5
    tmux -S "$TSOCK" send-keys C-c
    # the sleep is gone within a second, and the shell that runs next is the container's
    type 'echo M1; hostname; echo M1-END'
    wait_screen '^M1-END'
    assert_eq "$(line_after M1)" tty2
    type 'exit'
    wait_screen '^\$ $'
    no_leftovers tty2
}

@test "with -t the container's /dev/console and /dev/tty are its own pty, not the host's" {
    need_run
    term_start
    local host_tty maj min host_nr NL=$'\n'
    host_tty=$(tmux -S "$TSOCK" display-message -p '#{pane_tty}')
    read -r maj min < <(stat -c '%t %T' "$host_tty")
    host_nr=$((0x$maj * 256 + 0x$min))
    type "ctr-run -it --rm --network none --name tty3 busybox sh"
    wait_screen '^/ # '
    type 'echo M1; [ /dev/console -ef /dev/pts/0 ] && echo CONSOLE-IS-PTS0; ls /dev/pts | tr "\n" " "; echo; cut -d" " -f7 /proc/self/stat; (exec 3<>/dev/tty && echo TTY-OPENS); echo M1-END'
    wait_screen '^M1-END'
    local out
    out=$(screen | sed -n '/^M1$/,/^M1-END$/p')
    assert_contains "$out" CONSOLE-IS-PTS0
    # a devpts of its own: the host's ptys (this window's, $host_tty) are not there
    assert_contains "$out" "0 ptmx "
    assert_contains "$out" TTY-OPENS
    # its controlling terminal is its pty 136:0, not the window's
    assert_contains "$out" "$NL34816"
    if [ "$host_nr" != 34816 ]; then [[ "$out" != *"$NL$host_nr$NL"* ]]; fi
    type 'exit'
    wait_screen '^\$ $'
}

@test "without -t: tty says 'not a tty'; without -i stdin is /dev/null; -t without -i relays the output" {
    need_run
    term_start
    type "ctr-run --rm --network none busybox sh -c 'echo M1; tty; readlink /proc/self/fd/0; echo M1-END'"
    wait_screen '^M1-END'
    assert_eq "$(line_after M1)" "not a tty"
    assert_contains "$(screen)" /dev/null
    # -i alone: stdin is this terminal (the caller's), still no pty of its own
    type "ctr-run -i --rm --network none busybox sh -c 'echo M2; [ -t 0 ] && echo STDIN-IS-A-TTY; echo M2-END'"
    wait_screen '^M2-END'
    assert_eq "$(line_after M2)" STDIN-IS-A-TTY
    # -t alone: a pty and the window's size; nothing is read from here (sh -c exits by itself)
    type "ctr-run -t --rm --network none busybox sh -c 'echo M3; tty; stty size; echo M3-END'"
    wait_screen '^M3-END'
    assert_eq "$(screen | sed -n '/^M3$/,/^M3-END$/p' | sed -n 2,3p | tr '\n' ' ')" "/dev/pts/0 $(pane_size) "
    type "echo rc=\$?"
    wait_screen '^rc=0'
}

@test "ctr-run -d -i -t: ctr-attach reaches its terminal; ctrl-p ctrl-q detaches, it runs on; its status at the end" {
    need_run
    run_tool ctr-run -d -i -t --network none --name held busybox sh
    assert_eq "$output" held
    term_start
    type "ctr-attach held"
    type 'echo M1; tty; stty size; echo M1-END'
    wait_screen '^M1-END'
    assert_eq "$(screen | sed -n '/^M1$/,/^M1-END$/p' | sed -n 2,3p | tr '\n' ' ')" "/dev/pts/0 $(pane_size) "
    # detach: ctr-attach returns 0, the container is still running
    tmux -S "$TSOCK" send-keys C-p C-q
    wait_screen 'read escape sequence'
    type "echo rc=\$?"
    wait_screen '^rc=0'
    run_tool ctr-state pid "$CTRKIT_STATE/containers/held"
    # attach again (another size now): the same shell, which exits 4
    tmux -S "$TSOCK" resize-window -x 110 -y 35
    type "ctr-attach held"
    sleep 0.5
    type 'echo M2; stty size; echo M2-END; exit 4'
    wait_screen '^M2-END'
    assert_eq "$(line_after M2)" "$(pane_size)"
    type "echo rc=\$?"
    wait_screen '^rc=4'
    # what it wrote is in its log too
    wait_for test -f "$CTRKIT_STATE/containers/held/exit"
    run_tool ctr-logs held
    assert_contains "$output" M2-END
    # no terminal to attach to: a container without -t, or one that ended
    run_tool --rc 125 ctr-attach held
    assert_error ctr-attach "container held is not running"
    run_tool ctr-rm held
    no_leftovers held
    run_tool ctr-run -d --network none --name plain busybox sleep 300
    run_tool --rc 125 ctr-attach plain
    assert_error ctr-attach "container plain has no terminal to attach to"
    run_tool ctr-rm -f plain
}

@test "ctr-exec -it NAME sh: a pty of the container's own, the window's size; status and terminal restored" {
    need_run
    run_tool ctr-run -d --network none --name ex busybox sleep 300
    term_start
    type "stty -g >$TEST_DIR/stty.before; ctr-exec -it ex sh"
    wait_screen '^/ # '
    type 'echo M1; tty; stty size; hostname; echo M1-END'
    wait_screen '^M1-END'
    assert_eq "$(screen | sed -n '/^M1$/,/^M1-END$/p' | sed -n 2,4p | tr '\n' ' ')" "/dev/pts/0 $(pane_size) ex "
    type 'exit 5'
    wait_screen '^\$ $'
    type "echo rc=\$?; stty -g >$TEST_DIR/stty.after; echo M2-END"
    wait_screen '^M2-END'
    assert_contains "$(screen)" rc=5
    assert_eq "$(cat "$TEST_DIR/stty.after")" "$(cat "$TEST_DIR/stty.before")"
    # without -t: no pty; without -i: stdin is /dev/null
    run_tool ctr-exec ex sh -c 'tty; readlink /proc/self/fd/0'
    assert_eq "$output" "not a tty
/dev/null"
    run_tool ctr-rm -f ex
    no_leftovers ex
}

@test "ctr-run -it: SIGTERM to ctr-run reaches the container, and the terminal is restored" {
    need_run
    term_start
    type "stty -g >$TEST_DIR/stty.before; sh -c 'echo \$\$ >$TEST_DIR/run.pid; exec ctr-run -it --rm --network none --name tty4 busybox sh -c \"trap \\\"echo TERMED; exit 9\\\" TERM; echo READY; while :; do sleep 0.1; done\"'"
    wait_screen '^READY'
    kill -TERM "$(cat "$TEST_DIR/run.pid")"
    wait_screen '^TERMED'
    wait_screen '^\$ $'
    type "echo rc=\$?; stty -g >$TEST_DIR/stty.after; echo M1-END"
    wait_screen '^M1-END'
    assert_contains "$(screen)" rc=9
    assert_eq "$(cat "$TEST_DIR/stty.after")" "$(cat "$TEST_DIR/stty.before")"
    no_leftovers tty4
}

@test "ctr-run -it: a container killed from outside (SIGKILL) ends the relay, 137, terminal restored" {
    need_run
    term_start
    type "stty -g >$TEST_DIR/stty.before; ctr-run -it --rm --network none --name tty5 busybox sh"
    wait_screen '^/ # '
    wait_for test -s "$CTRKIT_STATE/containers/tty5/pid"
    kill -KILL "$(cat "$CTRKIT_STATE/containers/tty5/pid")"
    # (--rm: the folder goes once ctr-run is done; the outer prompt follows the container's)
    wait_for test ! -e "$CTRKIT_STATE/containers/tty5"
    wait_screen '\$ $'
    type "echo rc=\$?; stty -g >$TEST_DIR/stty.after; echo M1-END"
    wait_screen '^M1-END'
    assert_contains "$(screen)" rc=137
    assert_eq "$(cat "$TEST_DIR/stty.after")" "$(cat "$TEST_DIR/stty.before")"
    no_leftovers tty5
}
