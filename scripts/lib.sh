# lib.sh - the little that ctrkit's scripts share: messages, state folders, the undo log.
# Sourced by scripts/ctr-* (found next to the script, or installed in PREFIX/lib/ctrkit).
# shellcheck shell=sh

PROG=${0##*/}
# the scripts' version, the tools' (the workspace's in Cargo.toml; tests/00-docs checks it)
CTRKIT_VERSION=0.1.0
if [ "${1-}" = --version ]; then
    printf '%s (ctrkit) %s\n' "$PROG" "$CTRKIT_VERSION"
    exit 0
fi
# (next to this file: every script sets $lib to the lib.sh it sources)
# shellcheck source-path=SCRIPTDIR source=libopt.sh disable=SC2154
. "${lib%/*}/libopt.sh"
# exit statuses: die() 1, or 125 in the scripts that run a command (Docker's convention);
# usage() 2, or 125 in ctr-run, where every launcher failure is 125 as in docker run
DIE_STATUS=${DIE_STATUS:-1}
USAGE_STATUS=${USAGE_STATUS:-2}
TAB='	' # a literal tab (no command substitution: that forks)
NL='
'
# --- rootless (issue 21): who we are decides where data and state go ----------------------
# CTRKIT_UID, CTRKIT_GID: our effective IDs (the Uid and Gid lines of /proc/self/status, read by sh: no process).
# Not root: CTRKIT_ROOTLESS=1, and data and state default to folders of the user's own --
# $XDG_DATA_HOME/ctrkit (else ~/.local/share/ctrkit) and $XDG_RUNTIME_DIR/ctrkit (else
# /tmp/ctrkit-UID, 0700) -- never /var/lib/ctrkit or /run/ctrkit (as the tools' defaults).
# shellcheck disable=SC2034 # (read by the scripts that source this file)
CTRKIT_UID='' CTRKIT_GID=''
# shellcheck disable=SC2034
while IFS="$TAB " read -r _k _r _e _rest; do
    case $_k in
        Uid:) CTRKIT_UID=$_e ;;
        Gid:) CTRKIT_GID=$_e && break ;;
    esac
done </proc/self/status
# shellcheck disable=SC2034
CTRKIT_ROOTLESS=0
if [ "$CTRKIT_UID" != 0 ]; then
    # shellcheck disable=SC2034
    CTRKIT_ROOTLESS=1
    case ${XDG_DATA_HOME-} in
        /*) _data=$XDG_DATA_HOME/ctrkit ;;
        *) case ${HOME-} in /?*) _data=$HOME/.local/share/ctrkit ;; *) _data=/tmp/ctrkit-$CTRKIT_UID/data ;; esac ;;
    esac
    case ${XDG_RUNTIME_DIR-} in
        /*) _run=$XDG_RUNTIME_DIR/ctrkit ;;
        *) _run=/tmp/ctrkit-$CTRKIT_UID ;;
    esac
    CTRKIT_ROOT=${CTRKIT_ROOT:-$_data}
    CTRKIT_STATE=${CTRKIT_STATE:-$_run}
fi
CTRKIT_ROOT=${CTRKIT_ROOT:-/var/lib/ctrkit}
CTRKIT_STATE=${CTRKIT_STATE:-/run/ctrkit}
export CTRKIT_ROOT CTRKIT_STATE

# --- messages ------------------------------------------------------------------------------

# die MESSAGE : one line 'PROG: error: MESSAGE' on stderr, exit DIE_STATUS
die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit "$DIE_STATUS"
}

# usage MESSAGE : a usage error, one line, exit USAGE_STATUS
usage() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit "$USAGE_STATUS"
}

# warn MESSAGE : one line on stderr, carry on
warn() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
}

# log MESSAGE : a debug line on stderr when CTRKIT_DEBUG=1
log() {
    if [ "${CTRKIT_DEBUG:-0}" = 1 ]; then printf '%s: debug: %s\n' "$PROG" "$*" >&2; fi
    return 0
}

# ours CMD... : run a ctrkit tool; when it fails, its error line is told as ours
# ('PROG: error: ...'), and its status returned
ours() {
    { _ours_err=$("$@" 2>&1 >&3 3>&-); } 3>&1 && return 0
    _ours_rc=$?
    _ours_err=${_ours_err##*"$NL"}
    warn "${_ours_err#*: error: }"
    return "$_ours_rc"
}

# check_signal SIG : SIG is a Linux signal's name, with or without SIG, or a number (else a
# usage error)
check_signal() {
    case ${1#SIG} in
        [1-9] | [1-5][0-9] | 6[0-4] | HUP | INT | QUIT | ILL | TRAP | ABRT | IOT | BUS | FPE | \
            KILL | USR1 | SEGV | USR2 | PIPE | ALRM | TERM | STKFLT | CHLD | CONT | STOP | TSTP | \
            TTIN | TTOU | URG | XCPU | XFSZ | VTALRM | PROF | WINCH | IO | POLL | PWR | SYS) ;;
        *) usage "invalid signal '$1' (a name such as TERM or SIGTERM, or a number)" ;;
    esac
}

# --- state folders -------------------------------------------------------------------------

# valid_name NAME : ctrkit's container name rule, [a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}
valid_name() {
    case $1 in
        '' | [!a-zA-Z0-9]* | *[!a-zA-Z0-9_.-]*) return 1 ;;
    esac
    [ "${#1}" -le 128 ]
}

# ctr_dir [--missing-ok] CONTAINER : the state folder of the container CONTAINER names: its
# name, its ID (the folder's id file, what ctr-ls -q prints) or a prefix of one ID only, as
# in Docker. No such container is an error (nothing printed with --missing-ok); a prefix
# of several IDs is always one, naming them. IDs are looked up in the index
# $CTRKIT_STATE/ids (a file per ID holding the name: ctr-run writes it, teardown removes
# it, ctr-rename rewrites it), one folder listing; only when it has no match are the
# folders' id files read (containers made before the index).
ctr_dir() {
    _missing_ok=0
    if [ "$1" = --missing-ok ]; then _missing_ok=1 && shift; fi
    if valid_name "$1" && [ -d "$CTRKIT_STATE/containers/$1" ]; then
        printf '%s\n' "$CTRKIT_STATE/containers/$1"
        return 0
    fi
    _found='' _names=''
    case $1 in
        '' | *[!0-9a-f]*) ;;
        *)
            # (the scripts that split lists on newlines also turn globbing off)
            case $- in *f*) set +f && _noglob=1 ;; *) _noglob=0 ;; esac
            for _f in "$CTRKIT_STATE"/ids/"$1"*; do
                _n='' _id=''
                [ -f "$_f" ] && IFS= read -r _n <"$_f" || [ -n "$_n" ] || continue
                valid_name "$_n" || continue
                # (the entry holds while the folder of that name holds its ID)
                _d=$CTRKIT_STATE/containers/$_n
                [ -f "$_d/id" ] && IFS= read -r _id <"$_d/id" || [ -n "$_id" ] || continue
                [ "$_id" = "${_f##*/}" ] || continue
                ctr_dir_found "$_d"
            done
            if [ -z "$_found" ]; then
                for _f in "$CTRKIT_STATE"/containers/*/id; do
                    _id=''
                    [ -f "$_f" ] && IFS= read -r _id <"$_f" || [ -n "$_id" ] || continue
                    case $_id in "$1"*) ctr_dir_found "${_f%/id}" ;; esac
                done
            fi
            [ "$_noglob" = 0 ] || set -f
            ;;
    esac
    case $_found in
        many) die "container ID prefix '$1' is ambiguous: $_names" ;;
        '')
            [ "$_missing_ok" = 1 ] && return 0
            valid_name "$1" || usage "invalid container name '$1'"
            die "no such container: $1"
            ;;
    esac
    printf '%s\n' "$_found"
}

# ctr_dir_found DIR : (ctr_dir) one more folder whose ID matches
ctr_dir_found() {
    _names=$_names${_names:+, }${1##*/}
    [ -z "$_found" ] || _found=many
    [ -n "$_found" ] || _found=$1
}

# id_index NAME ID : record the container's ID in the index ctr_dir reads (next to
# $CTRKIT_STATE/containers, which exists)
id_index() {
    [ -d "$CTRKIT_STATE/ids" ] || mkdir -m 700 "$CTRKIT_STATE/ids" 2>/dev/null || [ -d "$CTRKIT_STATE/ids" ]
    printf '%s\n' "$1" >"$CTRKIT_STATE/ids/$2"
}

# state_write DIR FILE VALUE : write DIR/FILE atomically (temp file, rename)
state_write() {
    printf '%s\n' "$3" >"$1/.$2.tmp" && mv -f "$1/.$2.tmp" "$1/$2"
}

# state_read DIR FILE : the file's first line, or nothing (read by sh, no process)
state_read() {
    if [ -f "$1/$2" ]; then
        _l=''
        IFS= read -r _l <"$1/$2" || [ -n "$_l" ] || return 0
        printf '%s\n' "$_l"
    fi
}

# ctr_pid DIR : the host PID of the container's first process, if it still runs
ctr_pid() {
    _p=$(state_read "$1" pid)
    [ -n "$_p" ] && [ ! -f "$1/exit" ] && kill -0 "$_p" 2>/dev/null || return 1
    printf '%s\n' "$_p"
}

# ctr_init DIR : like ctr_pid, but checked, for what signals or enters the container: the
# PID is still the process DIR/pid was written for (ctr-state pid), never a reused one
ctr_init() {
    [ -s "$1/pid" ] && [ ! -f "$1/exit" ] || return 1
    ctr-state pid "$1" 2>/dev/null
}

# ctr_status DIR : created, running, paused, restarting or exited
ctr_status() {
    if [ -f "$1/restarting" ]; then
        echo restarting
    elif [ -f "$1/exit" ]; then
        echo exited
    elif ctr_pid "$1" >/dev/null; then
        if [ -f "$1/paused" ]; then echo paused; else echo running; fi
    elif [ -f "$1/pid" ]; then
        echo exited
    else
        echo created
    fi
}

# ctr_lock DIR : hold an flock on the state folder (fd 9) until the script exits. Children
# inherit the lock: a step still running after its launcher died keeps others waiting. It
# fails when DIR was removed or replaced while we waited (the lock would protect nothing).
ctr_lock() {
    exec 9<"$1" && ctr-state lock 9 --path "$1"
}

# root_lock NAME / root_unlock : hold (fd 8) / release the lock $CTRKIT_ROOT/.NAME.lock, for
# a first-use step that concurrent launchers must not both take (making the default image,
# the bridge)
root_lock() {
    # shellcheck disable=SC2174 # (only the last folder is ours to close; its parents are not)
    [ -d "$CTRKIT_ROOT" ] || mkdir -p -m 700 "$CTRKIT_ROOT"
    exec 8>>"$CTRKIT_ROOT/.$1.lock" && ctr-state lock 8
}
root_unlock() { exec 8>&-; }

# --- the undo log --------------------------------------------------------------------------
# $DIR/undo holds one entry per step: the command that undoes it, fields separated by tabs.
# An entry is written BEFORE its step runs (so a launcher killed halfway still leaves a record
# of what it may have made) and marked 'ok' after the step succeeded: 'ok' marks the entry
# before it, 'ok<TAB>N' the Nth entry (steps run side by side finish in any order). Teardown
# replays the entries newest first: failures of confirmed steps are reported, failures of
# unconfirmed ones (the step may never have happened) are ignored.
UNDO_N=0

# undo_add DIR CMD ARG... : record how to undo the step about to run; it is entry $UNDO_N
undo_add() {
    _d=$1
    shift
    for _a in "$@"; do
        case $_a in *"$TAB"* | *"$NL"*) die "undo log: tab or newline in '$_a'" ;; esac
    done
    _ifs=$IFS
    IFS=$TAB # "$*" joins the fields with tabs
    printf 'pending\t%s\n' "$*" >>"$_d/undo"
    IFS=$_ifs
    UNDO_N=$((UNDO_N + 1))
}

# undo_ok DIR [N] : the step recorded last (or entry N) succeeded
undo_ok() {
    if [ $# -gt 1 ]; then printf 'ok\t%s\n' "$2" >>"$1/undo"; else echo ok >>"$1/undo"; fi
}

# net_down DIR NAME BRIDGE : undo a container's bridge network: unpin its namespace first
# (the kernel then removes the veth pair with it, in the background), then release its
# lease; either part may already be done
net_down() {
    if [ -d "$1/ns" ]; then nsenter-rs --unpin "$1/ns" || return 1; fi
    netbridge detach --name "$2" --bridge "$3"
}

# pasta_down PIDFILE : end a rootless container's user-mode network (issue 21): pasta stays
# in the background after its container has gone, and ignores SIGTERM: SIGKILL it, if the
# PID in PIDFILE is still a pasta (passt) process
pasta_down() {
    [ -f "$1" ] || return 0
    _p=''
    IFS= read -r _p <"$1" || [ -n "$_p" ] || return 0
    case $_p in '' | *[!0-9]*) return 0 ;; esac
    _c=''
    { IFS= read -r _c <"/proc/$_p/comm"; } 2>/dev/null || return 0
    case $_c in passt* | pasta*) kill -KILL "$_p" 2>/dev/null || true ;; esac
    rm -f "$1"
}

# The undo commands that are functions of this file: undo_run calls them in the shell,
# every other undo command is a program, which it may exec.
UNDO_FUNCTIONS=' net_down pasta_down '


# undo_run K [exec] : run undo entry K (its fields in $_eK, tab-separated), its stderr in
# $_d/.undo.err.K; with 'exec' (in a background subshell) the subshell becomes the command,
# which saves a process -- unless the command is one of UNDO_FUNCTIONS
undo_run() {
    eval "_c=\$_e$1"
    IFS=$TAB
    # shellcheck disable=SC2086,SC2154 # split the recorded fields (tabs only, no globbing)
    set -- "$1" "${2-}" $_c
    IFS=$_ifs
    _k=$1 _x=$2
    shift 2
    case $_x:$UNDO_FUNCTIONS in
        exec:*" $1 "*) ;;
        exec:*) exec "$@" </dev/null >/dev/null 2>"$_d/.undo.err.$_k" ;;
    esac
    "$@" </dev/null >/dev/null 2>"$_d/.undo.err.$_k"
}

# undo_check K RC : report entry K's result RC: a confirmed step that failed is warned about
# and kept (in $_failed) for the next try
undo_check() {
    [ "$2" -ne 0 ] || return 0
    eval "_st=\$_s$1 _e=\$_e$1"
    # shellcheck disable=SC2154 # set by the eval
    if [ "$_st" = "done" ]; then
        _err=$(tail -n 1 "$_d/.undo.err.$1")
        # the command with its tabs shown as spaces
        _x=$_e _w=''
        while :; do
            case $_x in
                *"$TAB"*) _w=$_w${_x%%"$TAB"*}' ' _x=${_x#*"$TAB"} ;;
                *) _w=$_w$_x && break ;;
            esac
        done
        warn "undo failed: $_w: ${_err:-exit $2}"
        # kept for the next try, oldest first, confirmed again
        _failed="pending$TAB$_e${NL}ok$NL$_failed"
    else
        log "undo of an unconfirmed step failed (ignored): $_e"
    fi
}

# undo_group DIR / undo_group_end DIR : the entries added in between are made side by side,
# and undone side by side
undo_group() { echo group >>"$1/undo"; }
undo_group_end() { echo end >>"$1/undo"; }

# undo_replay DIR : undo every step, newest first, going past failures (each reported on a
# line of its own); the entries of a group run at once. Entries that failed stay in the log
# for a later ctr-rm. Returns 1 if any confirmed step could not be undone. (All in sh: no
# process but the undo commands.)
undo_replay() {
    _d=$1
    _failed=''
    [ -f "$_d/undo" ] || return 0
    # entry N: its command in _eN, its status in _sN, its group (0: none) in _gN
    _n=0 _g=0 _gid=0
    while IFS= read -r _line || [ -n "$_line" ]; do
        case $_line in
            ok) [ "$_n" = 0 ] || eval "_s$_n=done" ;;
            ok"$TAB"*)
                _k=${_line#ok"$TAB"}
                case $_k in '' | *[!0-9]*) ;; *) [ "$_k" -lt 1 ] || [ "$_k" -gt "$_n" ] || eval "_s$_k=done" ;; esac
                ;;
            group) _gid=$((_gid + 1)) _g=$_gid ;;
            end) _g=0 ;;
            *)
                _n=$((_n + 1))
                eval "_s$_n=pending _g$_n=\$_g _e$_n=\${_line#*\"\$TAB\"}"
                ;;
        esac
    done <"$_d/undo"
    _ifs=$IFS
    case $- in *f*) _noglob=1 ;; *) _noglob=0 ;; esac
    set -f
    _i=$_n
    while [ "$_i" -gt 0 ]; do
        eval "_g=\$_g$_i"
        if [ "$_g" = 0 ]; then
            _rc=0
            undo_run "$_i" || _rc=$?
            undo_check "$_i" "$_rc"
            _i=$((_i - 1))
            continue
        fi
        # a group: its entries (newest first, consecutive) at once -- the oldest in the
        # foreground (vfork: cheaper than a background fork) -- then each one's result
        _j=$_i _pids='' _last=''
        while [ "$_j" -gt 0 ] && eval "[ \"\$_g$_j\" = \"\$_g\" ]"; do
            if [ -n "$_last" ]; then
                undo_run "$_last" exec &
                _pids="$_pids $_last:$!"
            fi
            _last=$_j
            _j=$((_j - 1))
        done
        _lrc=0
        undo_run "$_last" || _lrc=$?
        IFS=' '
        for _p in $_pids; do
            IFS=$_ifs
            _rc=0
            wait "${_p#*:}" || _rc=$?
            undo_check "${_p%%:*}" "$_rc"
        done
        IFS=$_ifs
        undo_check "$_last" "$_lrc"
        _i=$_j
    done
    IFS=$_ifs
    [ "$_noglob" = 1 ] || set +f
    if [ -n "$_failed" ]; then
        printf '%s' "$_failed" >"$_d/undo"
        return 1
    fi
    return 0
}

# teardown DIR : undo everything, then remove the state folder -- unless something is still
# mounted in it (ctr-state rm checks the mount table, and never removes through a mount)
teardown() {
    undo_replay "$1" || return 1
    [ -d "$1" ] || return 0
    # the ID's index entry goes with the folder (ctr_dir)
    set -- "$1"
    _id=''
    [ ! -f "$1/id" ] || IFS= read -r _id <"$1/id" || true
    case $_id in '' | *[!0-9a-f]*) ;; *) set -- "$1" --unlink "$CTRKIT_STATE/ids/$_id" ;; esac
    # its message goes to a file in the folder: kept when nothing was removed
    ctr-state rm "$@" 2>"$1/.rm.err" && return 0
    _err=''
    [ ! -f "$1/.rm.err" ] || IFS= read -r _err <"$1/.rm.err" || true
    _err=${_err#ctr-state: error: }
    warn "${_err:-cannot remove state folder $1}"
    return 1
}
