# librootless.sh - ctr-run for a user other than root (issue 21): no setuid binary of
# ctrkit's own, only the system's newuidmap/newgidmap (uidmap) and pasta (passt).
# Sourced by ctr-run when CTRKIT_ROOTLESS=1 (lib.sh); it sets the variables ctr-run reads:
#   network   bridge (the default) becomes pasta: a user-mode network
#   rl_nocgroup  1: no cgroup is made (no limit asked for); a limit is refused unless a limit asks for one and the cgroup v2
#             subtree under --cgroup-parent is delegated to us
#   rl_pre    words run before nsenter-rs (container:NAME: enter that container's user and
#             net namespaces first, so the new ones are made inside its user namespace)
#   rl_args   words added to nsenter-rs's create options (--userns)
#   rl_pasta  the pasta command (--prestart) of the user-mode network
# One line names what a user cannot do here: a limit without delegation, a bridge, a
# user-mode network without pasta or /dev/net/tun.
# shellcheck shell=sh disable=SC2154,SC2034 # (ctr-run's variables, read and set)

# rootless_limit : the first resource-limit option given, or nothing
rootless_limit() {
    for _l in "memory:--memory" "memswap:--memory-swap" "cpus:--cpus" "cpushares:--cpu-shares" \
        "cpuset:--cpuset-cpus" "pids:--pids-limit" "devrules:--device-cgroup-rule"; do
        eval "_v=\$${_l%%:*}"
        [ -z "$_v" ] || {
            printf '%s\n' "${_l#*:}"
            return 0
        }
    done
}

# rootless_delegated PARENT : the cgroup v2 folder PARENT (relative to /sys/fs/cgroup) is
# delegated to us: a pure cgroup v2 host, and the folder, its cgroup.procs and
# cgroup.subtree_control writable by us (what systemd's Delegate=yes gives a user)
rootless_delegated() {
    [ -f /sys/fs/cgroup/cgroup.controllers ] || return 1
    _c=/sys/fs/cgroup/${1#/}
    [ -d "$_c" ] && [ -w "$_c" ] && [ -w "$_c/cgroup.procs" ] && [ -w "$_c/cgroup.subtree_control" ]
}

# rootless_setup : decide the network, the cgroup and nsenter-rs's extra words
rootless_setup() {
    rl_pre='' rl_args=''
    case $network in
        bridge)
            # the default; an explicit --network bridge is refused
            [ "$network_given" = 0 ] || usage "--network bridge: bridges need root (rootless: the default user-mode network, none, host or container:NAME)"
            network=pasta
            ;;
    esac
    # cgroups: only with a delegated subtree; without a limit, none at all
    _l=$(rootless_limit)
    if [ -n "$_l" ]; then
        if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
            _why="/sys/fs/cgroup/${cgparent#/} is not delegated to uid $CTRKIT_UID (give --cgroup-parent a delegated cgroup v2 subtree)"
        else
            _why="this host has no pure cgroup v2 hierarchy to delegate"
        fi
        rootless_delegated "$cgparent" || usage "$_l: resource limits need a cgroup delegated to uid $CTRKIT_UID; $_why"
    else
        rl_nocgroup=1
    fi
    case $userns in
        '' | auto) rl_args="--userns=auto" ;;
        keep-id)
            rl_args="--userns=keep-id"
            # Podman's keep-id: the command runs as the user's own IDs
            [ -n "$user" ] || user=$CTRKIT_UID:$CTRKIT_GID
            ;;
        *) usage "--userns $userns: want auto or keep-id" ;;
    esac
    case $network in
        container:*)
            # the other container's user namespace owns its net namespace: enter both, and
            # make the new namespaces inside it (our own --userns is not used)
            _o=$CTRKIT_STATE/containers/${network#container:}
            _p=$(ctr_pid "$_o") || die "--network $network: container is not running"
            rl_pre="nsenter-rs${NL}--user=/proc/$_p/ns/user$NL--net=/proc/$_p/ns/net$NL--preserve-credentials$NL--"
            rl_args=''
            ;;
        pasta)
            command -v pasta >/dev/null 2>&1 || die "the user-mode network needs pasta (Debian package passt); or use --network none"
            { [ -r /dev/net/tun ] && [ -w /dev/net/tun ]; } ||
                die "the user-mode network needs /dev/net/tun open to uid $CTRKIT_UID (it is not here: mode 0666 is the usual); or use --network none"
            # (--prestart splits on spaces: a state folder with one cannot be named)
            case $CTRKIT_STATE in *' '*) die "the user-mode network: the state folder '$CTRKIT_STATE' has a space in its path" ;; esac
            # (no port is forwarded but -p's: pasta's default 'auto' scans the namespace's
            # ports every second, through a child, and leaves zombies once it is gone)
            _t='' _u=''
            for _p in $publishes; do
                case $_p in
                    *:*/udp) _u=$_u${_u:+,}${_p%/udp} ;;
                    *:*) _t=$_t${_t:+,}${_p%/tcp} ;;
                    *) usage "--publish $_p: want HOSTPORT:PORT[/PROTO] (rootless)" ;;
                esac
            done
            rl_pasta="pasta --config-net --quiet -T none -U none -t ${_t:-none} -u ${_u:-none}"
            ;;
    esac
}
