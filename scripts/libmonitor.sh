# libmonitor.sh - the monitor of a detached container: one small process per container
# (like conmon, never a daemon for all) that starts it, waits for it, records its exit
# status and applies its restart policy. Sourced by ctr-run and ctr-start, after lib.sh.
# shellcheck shell=sh disable=SC2034 # (DIE_STATUS is read by lib.sh's die)

# What the state folder holds for it (written by ctr-run):
#   start          the container's command line, as sh words (run again on each restart)
#   monitor        LOG_SIZE LOG_FILES RM: the log's rotation, and --rm
#   restart        the policy: no, always, unless-stopped, on-failure[:N]
#   restart-count  how often it was restarted; exit: the last status
#   stopped        ctr-stop was here: no restart, whatever the policy
#   restarting     between two runs (the back-off delay)

# quote WORD : QUOTED is WORD as one single-quoted sh word (no process)
quote() {
    _q=$1 QUOTED=''
    while :; do
        case $_q in
            *\'*)
                QUOTED="$QUOTED${_q%%\'*}'\\''"
                _q=${_q#*\'}
                ;;
            *) break ;;
        esac
    done
    QUOTED="'$QUOTED$_q'"
}

# record_start DIR WORDS... : DIR/start holds WORDS, for monitor to run (again)
record_start() {
    _dir=$1 _line=''
    shift
    for _w in "$@"; do
        quote "$_w"
        _line="$_line$QUOTED "
    done
    printf '%s\n' "$_line" >"$_dir/start"
}

# valid_restart POLICY : Docker's restart policies
valid_restart() {
    case $1 in
        no | always | unless-stopped | on-failure) return 0 ;;
        on-failure:*) case ${1#on-failure:} in '' | *[!0-9]*) return 1 ;; esac ;;
        *) return 1 ;;
    esac
}

# uptime_s : seconds since boot (read by sh, no process)
uptime_s() {
    IFS=' ' read -r _up _ </proc/uptime
    UPTIME=${_up%.*}
}

# monitor DIR : run the container of DIR until it ends for good, its output into its log
# under $CTRKIT_ROOT/logs/NAME, restarting it as its policy says, with Docker's back-off
# (0.1 s, doubled after each quick failure up to a minute, back to 0.1 s once a run lasted
# 10 s); then, with --rm, tear it down. Run in the background, with no terminal, by a
# script that sourced lib.sh from $lib.
monitor() {
    _dir=$1
    _id=$(state_read "$_dir" id)
    IFS=' ' read -r _size _files _rm <"$_dir/monitor"
    _policy=$(state_read "$_dir" restart)
    _count=$(state_read "$_dir" restart-count)
    _count=${_count:-0}
    _delay=100 # milliseconds
    # shellcheck disable=SC2119 # (it sets its own words)
    monitor_run
}

# monitor_run : one run of the container. While it runs, this shell is `ctr-state wait`:
# the same process (so still the parent of the container and of its log relay) in a
# fraction of a shell's memory, which records the exit status at once and then starts a
# new shell at monitor_next. Never returns.
# shellcheck disable=SC2120 # (its words are the start file's)
monitor_run() {
    # (ctr-rename may have moved the folder, and rewritten the start's paths)
    follow_rename
    _log=$CTRKIT_ROOT/logs/${_dir##*/}/log
    _cmd=$(cat "$_dir/start")
    eval "set -- $_cmd"
    # (a new pid file marks the new run's start)
    rm -f "$_dir/pid" "$_dir/exit" "$_dir/restarting"
    uptime_s
    _from=$UPTIME
    # the container's output through a fifo to the log relay (a log that cannot be
    # written ends the output, never the monitor); both are children of this shell, no
    # subshell between (each would be one more process per container). The fifo is held
    # open read-write here until both have it, so neither open can block on the other.
    [ -p "$_dir/log.fifo" ] || mkfifo -m 600 "$_dir/log.fifo"
    exec 5<>"$_dir/log.fifo"
    ctr-state log "$_log" --timestamps --max-size "$_size" --max-file "$_files" \
        <"$_dir/log.fifo" 3>&- 5>&- 9<&- &
    _relay=$!
    # the container, and at once, with no command between (after each builtin the shell
    # reaps the children that ended, and an early exit's status would be lost), the exec
    "$@" </dev/null >&5 2>&1 3>&- 5>&- 9<&- &
    # shellcheck disable=SC2016,SC2154 # (the new shell expands them; $lib: lib.sh's path)
    exec ctr-state wait "$_dir" --id "$_id" "$!" "$_relay" -- \
        sh -c 'lib=$1 && shift && . "$lib" && . "${lib%/*}/libmonitor.sh" && monitor_next "$@"' \
        "$PROG" "$lib" "$_dir" "$_id" "$_size" "$_files" "$_rm" "$_policy" "$_count" "$_delay" \
        "$_from" 5>&-
}

# monitor_next DIR ID SIZE FILES RM POLICY COUNT DELAY FROM STATUS : after a run, in the
# shell ctr-state wait started: run the container again, or end (with --rm, tear it down)
monitor_next() {
    _dir=$1 _id=$2 _size=$3 _files=$4 _rm=$5 _policy=$6 _count=$7 _delay=$8 _from=$9
    shift 9
    _rc=$1
    follow_rename
    # (ctr-state wait wrote it, unless the folder moved meanwhile)
    [ -f "$_dir/exit" ] || state_write "$_dir" exit "$_rc"
    # shellcheck disable=SC2119
    if monitor_again; then monitor_run; fi
    rm -f "$_dir/restarting"
    if [ "$_rm" = 1 ] && [ -s "$_dir/pid" ]; then teardown "$_dir"; fi
}

# monitor_again : whether the container runs again, as its policy says (after its
# back-off, which ctr-stop or ctr-rm -f end at once); counts the restart
monitor_again() {
    # a start that failed before the command ran (no pid) is never retried
    [ -s "$_dir/pid" ] || return 1
    if [ -f "$_dir/stopped" ] || [ -e "$_dir/removing" ]; then return 1; fi
    case $_policy in
        always | unless-stopped) ;;
        on-failure*)
            [ "${_rc:-0}" != 0 ] || return 1
            _max=${_policy#on-failure}
            _max=${_max#:}
            [ -z "$_max" ] || [ "$_count" -lt "$_max" ] || return 1
            ;;
        *) return 1 ;;
    esac
    uptime_s
    if [ $((UPTIME - _from)) -ge 10 ]; then _delay=100; fi
    _count=$((_count + 1))
    state_write "$_dir" restart-count "$_count"
    : >"$_dir/restarting"
    # the back-off, in tenths
    _waited=0
    while [ "$_waited" -lt "$_delay" ]; do
        follow_rename
        if [ -f "$_dir/stopped" ] || [ -e "$_dir/removing" ]; then return 1; fi
        sleep 0.1
        _waited=$((_waited + 100))
    done
    _delay=$((_delay * 2))
    [ "$_delay" -le 60000 ] || _delay=60000
}

# follow_rename : _dir is the container's folder again after ctr-rename moved it (found by
# its ID, $_id: a new container may have taken the old name meanwhile)
follow_rename() {
    _fid=''
    [ ! -f "$_dir/id" ] || IFS= read -r _fid <"$_dir/id" || true
    [ "$_fid" != "$_id" ] && [ -n "$_id" ] || return 0
    _moved=$(ctr_dir --missing-ok "$_id" 2>/dev/null) || return 0
    [ -z "$_moved" ] || _dir=$_moved
}

# wait_started DIR : return once the container of DIR runs (its pid file is written), or
# die with its last log line when it could not start
wait_started() {
    _i=0
    while [ -d "$1" ] && [ ! -s "$1/pid" ] && [ ! -f "$1/exit" ]; do
        _i=$((_i + 1))
        [ "$_i" -lt 3000 ] || die "container did not start within 30s"
        sleep 0.01
    done
    if [ -d "$1" ] && [ ! -s "$1/pid" ]; then
        wait || true
        # not found (127) or not executable (126) stay what they are, as with docker run -d
        case $(state_read "$1" exit) in 126 | 127) DIE_STATUS=$(state_read "$1" exit) ;; esac
        die "$(tail -n 1 "$CTRKIT_ROOT/logs/${1##*/}/log")"
    fi
}
