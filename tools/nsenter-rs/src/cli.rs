//! The command line. Enter mode keeps util-linux nsenter's options (an optional value is
//! given with `=`, as in `--net=/run/netns/x`); create mode starts with `--new=TYPES`.
//!
//! Three long options mean one thing in each mode: `--user`, `--env` and `--cgroup`. In
//! create mode they take a value (`--user 1000:1000`, `--env K=V`, `--cgroup PATH`);
//! [`crate::run`] rewrites the space-separated form to `--opt=VALUE` before parsing.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;
use common::ns::NsKind;

use crate::capset::{CapList, parse_cap_list};
use crate::settings::{BindSpec, DeviceSpec, IdMap, Rlimit, Sysctl, TmpfsSpec};

/// create namespaces (a container's birth) and enter a live container's namespaces
///
/// Enter mode (a drop-in for util-linux nsenter): nsenter-rs -t PID -a [CMD...]
///
/// Create mode: nsenter-rs --new=pid,mnt,uts,ipc,net [--rootfs DIR] [options] -- CMD...
#[derive(Debug, Parser)]
#[command(
    override_usage = "nsenter-rs [OPTIONS] [-t PID | --container NAME] [-a] [-m -u -i -n -p -U -C -T] [CMD]...\n       nsenter-rs --new=TYPES [--rootfs DIR] [OPTIONS] -- CMD...\n       nsenter-rs --unpin DIR"
)]
pub struct Cli {
    // ---------------------------------------------------------------- enter mode
    /// Target process to take namespaces (and root, cwd, cgroup, env) from
    #[arg(short = 't', long = "target", value_name = "PID", value_parser = common::parse::parse_pid, help_heading = "Enter")]
    pub target: Option<i32>,

    /// Target a container by name (ctrkit's, or Docker's, Podman's, containerd's, or a pod's
    /// POD/CONTAINER), ID or unique ID prefix (instead of -t); without a namespace option,
    /// enter all of its namespaces (as -a)
    #[arg(
        long,
        value_name = "NAME|ID",
        conflicts_with = "target",
        help_heading = "Enter"
    )]
    pub container: Option<String>,

    /// Enter every namespace of the target (those that differ from ours)
    #[arg(short = 'a', long = "all", help_heading = "Enter")]
    pub all: bool,

    /// Enter the mount namespace (of the target, or FILE)
    #[arg(short = 'm', long = "mount", value_name = "FILE", num_args = 0..=1, require_equals = true, help_heading = "Enter")]
    pub mount: Option<Option<PathBuf>>,

    /// Enter the UTS namespace (hostname)
    #[arg(short = 'u', long = "uts", value_name = "FILE", num_args = 0..=1, require_equals = true, help_heading = "Enter")]
    pub uts: Option<Option<PathBuf>>,

    /// Enter the System V IPC namespace
    #[arg(short = 'i', long = "ipc", value_name = "FILE", num_args = 0..=1, require_equals = true, help_heading = "Enter")]
    pub ipc: Option<Option<PathBuf>>,

    /// Enter the network namespace
    #[arg(short = 'n', long = "net", value_name = "FILE", num_args = 0..=1, require_equals = true, help_heading = "Enter")]
    pub net: Option<Option<PathBuf>>,

    /// Enter the PID namespace (the command is forked into it)
    #[arg(short = 'p', long = "pid", value_name = "FILE", num_args = 0..=1, require_equals = true, help_heading = "Enter")]
    pub pid: Option<Option<PathBuf>>,

    /// Enter the user namespace. Create mode: --user UID[:GID] (or NAME[:GROUP]) runs the
    /// command as that user
    #[arg(short = 'U', long = "user", value_name = "FILE|UID[:GID]", num_args = 0..=1, require_equals = true, help_heading = "Enter")]
    pub user: Option<Option<OsString>>,

    /// Enter the cgroup namespace. Create mode: --cgroup PATH moves the container into the
    /// cgroup PATH before exec (a cgroupfs directory, or a path below the hierarchy roots,
    /// joined in every hierarchy where it exists)
    #[arg(short = 'C', long = "cgroup", value_name = "FILE|PATH", num_args = 0..=1, require_equals = true, help_heading = "Enter")]
    pub cgroup: Option<Option<PathBuf>>,

    /// Enter the time namespace
    #[arg(short = 'T', long = "time", value_name = "FILE", num_args = 0..=1, require_equals = true, help_heading = "Enter")]
    pub time: Option<Option<PathBuf>>,

    /// Set the root directory (the target's, or DIR)
    #[arg(short = 'r', long = "root", value_name = "DIR", num_args = 0..=1, require_equals = true, help_heading = "Enter")]
    pub root: Option<Option<PathBuf>>,

    /// Set the working directory (the target's, or DIR)
    #[arg(short = 'w', long = "wd", value_name = "DIR", num_args = 0..=1, require_equals = true, help_heading = "Enter")]
    pub wd: Option<Option<PathBuf>>,

    /// Set the working directory to DIR inside the entered mount namespace (after -r)
    #[arg(
        short = 'W',
        long = "wdns",
        value_name = "DIR",
        conflicts_with = "wd",
        help_heading = "Enter"
    )]
    pub wdns: Option<PathBuf>,

    /// Set the user ID in the entered namespaces (default 0 when a user namespace is entered)
    #[arg(
        short = 'S',
        long = "setuid",
        value_name = "UID",
        help_heading = "Enter"
    )]
    pub setuid: Option<u32>,

    /// Set the group ID in the entered namespaces
    #[arg(
        short = 'G',
        long = "setgid",
        value_name = "GID",
        help_heading = "Enter"
    )]
    pub setgid: Option<u32>,

    /// Keep our user and group IDs (do not switch to 0 in an entered user namespace)
    #[arg(long = "preserve-credentials", help_heading = "Enter")]
    pub preserve_credentials: bool,

    /// Do not fork before running the command (a pid namespace then applies to its children only)
    #[arg(short = 'F', long = "no-fork", help_heading = "Enter")]
    pub no_fork: bool,

    /// Enter mode: take the target's environment. Both modes: --env K=V sets a variable
    /// (repeatable; K alone copies it from our environment)
    #[arg(short = 'e', long = "env", value_name = "K=V", num_args = 0..=1, require_equals = true, default_missing_value = "", action = clap::ArgAction::Append, help_heading = "Enter")]
    pub env: Vec<String>,

    /// Move into the target's cgroups (every hierarchy) before entering
    #[arg(short = 'c', long = "join-cgroup", help_heading = "Enter")]
    pub join_cgroup: bool,

    /// Give the command the target's capability sets and no_new_privs
    #[arg(
        long = "caps",
        value_name = "target",
        value_enum,
        help_heading = "Enter"
    )]
    pub caps: Option<CapsFrom>,

    /// Debug a container without a shell: join every namespace but mnt, mount a fresh /proc
    /// in a private copy of the host's mounts, and mount the target's root at /target
    #[arg(long = "debug", help_heading = "Enter")]
    pub debug: bool,

    /// With --debug: mount the target's root on this existing folder instead of /target
    #[arg(
        long = "target-dir",
        value_name = "DIR",
        requires = "debug",
        help_heading = "Enter"
    )]
    pub target_dir: Option<PathBuf>,

    /// Print what would be joined (types, inode ids, paths) and run nothing
    #[arg(long = "dry-run", help_heading = "Enter")]
    pub dry_run: bool,

    /// With --dry-run: print one JSON document
    #[arg(long = "json", help_heading = "Enter")]
    pub json: bool,

    /// ctrkit's runtime state, where --container finds containers by name
    #[arg(long = "state-dir", value_name = "DIR", env = "CTRKIT_STATE", hide_env_values = true, default_value_os_t = common::state::default_state(), help_heading = "Enter")]
    pub state_dir: PathBuf,

    // ---------------------------------------------------------------- create mode
    /// Create these namespaces: a comma list of pid,mnt,uts,ipc,net,user,cgroup,time
    #[arg(long = "new", value_name = "TYPES", value_parser = parse_new, help_heading = "Create")]
    pub new: Option<NsList>,

    /// Join an existing namespace while creating the others (repeatable), e.g. net=/run/netns/x
    #[arg(long = "join", value_name = "TYPE=FILE", value_parser = parse_join, help_heading = "Create")]
    pub join: Vec<(NsKind, PathBuf)>,

    /// Bind-mount each new namespace at DIR/<type> so it outlives the process
    #[arg(long = "pin", value_name = "DIR", help_heading = "Create")]
    pub pin: Option<PathBuf>,

    /// Release the namespaces pinned in DIR (and remove DIR) and exit
    #[arg(long = "unpin", value_name = "DIR", help_heading = "Create")]
    pub unpin: Option<PathBuf>,

    /// Root filesystem: /proc, /sys (read-only), /dev, then pivot_root; implies a mnt namespace
    #[arg(long = "rootfs", value_name = "DIR", help_heading = "Create")]
    pub rootfs: Option<PathBuf>,

    /// Mount a fresh /proc (without --rootfs; use with a new pid namespace)
    #[arg(long = "mount-proc", help_heading = "Create")]
    pub mount_proc: bool,

    /// Bring up the loopback interface of the new net namespace (Docker's --network none)
    #[arg(long = "loopback", help_heading = "Create")]
    pub loopback: bool,

    /// Bind-mount SRC at DST inside the container (repeatable; DST inside --rootfs); OPTIONS
    /// a comma list of ro, rw and a propagation ([r]private, [r]shared, [r]slave)
    #[arg(long = "bind", value_name = "SRC:DST[:OPTIONS]", value_parser = BindSpec::parse, help_heading = "Create")]
    pub bind: Vec<BindSpec>,

    /// Mount a tmpfs at DST (repeatable); OPTIONS a size (64m) or a comma list of mount flags
    /// (ro, noexec, exec, nosuid, ...) and tmpfs options (size=64m, mode=1777, uid=, gid=);
    /// default nosuid,nodev,mode=1777
    #[arg(long = "tmpfs", value_name = "DST[:OPTIONS]", value_parser = TmpfsSpec::parse, help_heading = "Create")]
    pub tmpfs: Vec<TmpfsSpec>,

    /// The size of the container's /dev/shm (with --rootfs; default 64m)
    #[arg(long = "shm-size", value_name = "SIZE", value_parser = parse_size, help_heading = "Create")]
    pub shm_size: Option<u64>,

    /// With --rootfs and --cgroup: mount the container's own cgroups at /sys/fs/cgroup,
    /// read-only (pure v2: its cgroup directory; v1: each hierarchy's directory of it)
    #[arg(long = "cgroup-mount", requires = "rootfs", help_heading = "Create")]
    pub cgroup_mount: bool,

    /// Create the working directory (--workdir) when it is missing, as Docker does
    #[arg(long = "mkdir-workdir", requires = "workdir", help_heading = "Create")]
    pub mkdir_workdir: bool,

    /// The command's OOM score adjustment, -1000..1000 (lowering it needs CAP_SYS_RESOURCE)
    #[arg(long = "oom-score-adj", value_name = "N", value_parser = clap::value_parser!(i32).range(-1000..=1000), allow_hyphen_values = true, help_heading = "Create")]
    pub oom_score_adj: Option<i32>,

    /// Make the host device node HOST appear at CONTAINER (default: the same path) inside
    /// --rootfs (repeatable); PERMS (r, w, m; default rwm) is for the device cgroup
    #[arg(long = "device", value_name = "HOST[:CONTAINER][:PERMS]", value_parser = DeviceSpec::parse, help_heading = "Create")]
    pub device: Vec<DeviceSpec>,

    /// Make the root filesystem read-only
    #[arg(long = "read-only", help_heading = "Create")]
    pub read_only: bool,

    /// Set the hostname (implies a uts namespace)
    #[arg(long = "hostname", value_name = "NAME", help_heading = "Create")]
    pub hostname: Option<String>,

    /// Set the NIS domain name (implies a uts namespace)
    #[arg(long = "domainname", value_name = "NAME", help_heading = "Create")]
    pub domainname: Option<String>,

    /// Map user IDs INSIDE:OUTSIDE:COUNT in a new user namespace (repeatable)
    #[arg(long = "uid-map", value_name = "IN:OUT:COUNT", value_parser = IdMap::parse, help_heading = "Create")]
    pub uid_map: Vec<IdMap>,

    /// Map group IDs INSIDE:OUTSIDE:COUNT in a new user namespace (repeatable)
    #[arg(long = "gid-map", value_name = "IN:OUT:COUNT", value_parser = IdMap::parse, help_heading = "Create")]
    pub gid_map: Vec<IdMap>,

    /// Map root inside a new user namespace to our user and group (implies a user namespace)
    #[arg(long = "map-root-user", help_heading = "Create")]
    pub map_root_user: bool,

    /// Rootless: a new user namespace mapping our subordinate IDs (/etc/subuid, /etc/subgid)
    /// through newuidmap/newgidmap: auto (root inside is us) or keep-id (our IDs stay ours)
    #[arg(
        long = "userns",
        value_name = "MODE",
        value_enum,
        help_heading = "Create"
    )]
    pub userns: Option<crate::userns::Mode>,

    /// Make the new mount namespace from a minimal one pinned at FILE (made there on first
    /// use), not as a copy of the host's: its cost no longer grows with the host's mounts
    /// (with --rootfs; ignored with a user namespace, --join mnt, --oci-fs, --rootfs-overlay)
    #[arg(long = "mnt-template", value_name = "FILE", help_heading = "Create")]
    pub mnt_template: Option<PathBuf>,

    /// Mount overlayfs with OPTIONS (lowerdir=...,upperdir=...,workdir=...) on --rootfs
    /// first, inside the new namespaces (rootless: layermount's layers, in the user namespace)
    #[arg(
        long = "rootfs-overlay",
        value_name = "OPTIONS",
        help_heading = "Create"
    )]
    pub rootfs_overlay: Option<String>,

    /// Run CMD (split on spaces) with the container's PID as its last argument once its
    /// namespaces exist, before its command runs (a user-mode network: pasta --config-net)
    #[arg(long = "prestart", value_name = "CMD", help_heading = "Create")]
    pub prestart: Option<String>,

    /// The PID file --prestart's command leaves for a process it keeps in the background
    /// (pasta --pid FILE); that process is killed when the container's command ends
    #[arg(
        long = "prestart-pidfile",
        value_name = "FILE",
        help_heading = "Create",
        requires = "prestart"
    )]
    pub prestart_pidfile: Option<PathBuf>,

    /// Supplementary groups of the command: a comma list of GIDs or group names (enter mode,
    /// with -S/-G: GIDs only)
    #[arg(long = "groups", value_name = "GID,...", help_heading = "Create")]
    pub groups: Option<String>,

    /// Working directory of the command (default / with --rootfs)
    #[arg(long = "workdir", value_name = "DIR", help_heading = "Create")]
    pub workdir: Option<PathBuf>,

    /// Read K=V lines from FILE into the environment (repeatable; # comments)
    #[arg(long = "env-file", value_name = "FILE", help_heading = "Create")]
    pub env_file: Vec<PathBuf>,

    /// Start from an empty environment (PATH gets a default)
    #[arg(long = "clear-env", help_heading = "Create")]
    pub clear_env: bool,

    /// Set a namespaced sysctl, e.g. net.ipv4.ip_forward=1 (repeatable; others are refused)
    #[arg(long = "sysctl", value_name = "K=V", value_parser = Sysctl::parse, help_heading = "Create")]
    pub sysctl: Vec<Sysctl>,

    /// Set a resource limit NAME=SOFT[:HARD], e.g. nofile=1024:4096 (repeatable)
    #[arg(long = "rlimit", value_name = "NAME=SOFT[:HARD]", value_parser = Rlimit::parse, help_heading = "Create")]
    pub rlimit: Vec<Rlimit>,

    /// Add capabilities to the default set (names with or without CAP_, or all)
    #[arg(long = "cap-add", value_name = "CAP,...", value_parser = parse_cap_list, help_heading = "Create")]
    pub cap_add: Vec<CapList>,

    /// Drop capabilities from the default set (names with or without CAP_, or all)
    #[arg(long = "cap-drop", value_name = "CAP,...", value_parser = parse_cap_list, help_heading = "Create")]
    pub cap_drop: Vec<CapList>,

    /// Keep every capability and leave /proc and /sys unmasked
    #[arg(long = "privileged", help_heading = "Create")]
    pub privileged: bool,

    /// Do not set no_new_privs (setuid programs may then gain privileges)
    #[arg(long = "allow-new-privs", help_heading = "Create")]
    pub allow_new_privs: bool,

    /// Run a tiny built-in init as pid 1 (reaps zombies, forwards signals); the command is pid 2
    #[arg(long = "init", help_heading = "Create")]
    pub init: bool,

    /// Write the host PID of the container's first process to FILE, once it has exec'd
    #[arg(long = "pidfile", value_name = "FILE", help_heading = "Create")]
    pub pidfile: Option<PathBuf>,

    /// Return once the command runs, printing its host PID
    #[arg(long = "detach", help_heading = "Create")]
    pub detach: bool,

    /// Keep descriptors 3 to 3+N-1 open for the command (runc's meaning); every other
    /// descriptor above 2 is closed before the command runs
    #[arg(long = "preserve-fds", value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,

    /// Enter mode: run the command in a new session, without a controlling terminal (create
    /// mode always does)
    #[arg(long = "new-session", help_heading = "Enter")]
    pub new_session: bool,

    /// Give the command a pseudo-terminal of its own (docker run -t): a new pty (in create
    /// mode from the container's devpts, also its /dev/console) as its stdin, stdout, stderr
    /// and controlling terminal, relayed to ours (stdin in raw mode while it is a terminal;
    /// window size changes passed on). Input is relayed until stdin ends (/dev/null: output
    /// only)
    #[arg(long = "tty")]
    pub tty: bool,

    /// With --tty: hold the terminal for a client that attaches at the unix socket PATH
    /// (nsenter-rs --attach PATH) instead of relaying it to ours; the output also goes to our
    /// stdout (a log). For a detached container's terminal (ctr-run -dt)
    #[arg(
        long = "tty-socket",
        value_name = "PATH",
        requires = "tty",
        help_heading = "Create"
    )]
    pub tty_socket: Option<PathBuf>,

    /// Attach this terminal to one held at the unix socket PATH (--tty-socket): raw mode,
    /// window size passed on; exit with the container's status, or 0 when ctrl-p ctrl-q
    /// detaches
    #[arg(long = "attach", value_name = "PATH")]
    pub attach: Option<PathBuf>,

    /// Seccomp filter: default (Docker's default profile: the default in create mode, except
    /// with --privileged), unconfined (none), or a FILE in Docker's or OCI's seccomp JSON.
    /// Enter mode: no filter unless this is given
    #[arg(long = "seccomp", value_name = "default|unconfined|FILE", value_parser = crate::seccomp::parse_choice)]
    pub seccomp: Option<crate::seccomp::Choice>,

    // ---------------------------------------------------------------- OCI runtime (ctr-oci)
    /// Create mode: build the container, then hold its process before exec until the fifo
    /// PATH (made with mkfifo) is opened for reading (runc's exec.fifo; `ctr-oci start`).
    /// With --detach, return once it waits (the PID goes only to --pidfile: our stdout is the
    /// container's)
    #[arg(long = "wait-fifo", value_name = "PATH", help_heading = "OCI runtime")]
    pub wait_fifo: Option<PathBuf>,

    /// Give the command a pty (as --tty) and send its master over the unix socket PATH with
    /// SCM_RIGHTS (runc's --console-socket) instead of relaying it; works with --detach
    #[arg(
        long = "console-socket",
        value_name = "PATH",
        help_heading = "OCI runtime"
    )]
    pub console_socket: Option<PathBuf>,

    /// Create mode: the size of the pty (--tty, --console-socket) as ROWSxCOLS, e.g. 24x80
    /// (OCI process.consoleSize; default: our terminal's)
    #[arg(long = "console-size", value_name = "ROWSxCOLS", value_parser = crate::oci::parse_size, help_heading = "OCI runtime")]
    pub console_size: Option<(u16, u16)>,

    /// The five capability sets exactly (OCI process.capabilities), as hex masks
    /// BOUNDING:EFFECTIVE:INHERITABLE:PERMITTED:AMBIENT, e.g. a80425fb:a80425fb:0:a80425fb:0
    /// (create mode: instead of the set --cap-add/--cap-drop/--privileged make; enter mode:
    /// the command's, instead of the target's with --caps=target)
    #[arg(long = "cap-sets", value_name = "B:E:I:P:A", value_parser = crate::oci::parse_cap_sets, help_heading = "OCI runtime")]
    pub cap_sets: Option<crate::capset::Sets>,

    /// Create mode with --rootfs: mask this path (an empty read-only tmpfs on a folder,
    /// /dev/null on a file; repeatable). With --mask or --readonly-path only the paths given
    /// are masked or made read-only, not the default lists (OCI linux.maskedPaths)
    #[arg(long = "mask", value_name = "PATH", help_heading = "OCI runtime")]
    pub mask: Vec<PathBuf>,

    /// Create mode with --rootfs: make this path read-only (repeatable; OCI
    /// linux.readonlyPaths); see --mask
    #[arg(
        long = "readonly-path",
        value_name = "PATH",
        help_heading = "OCI runtime"
    )]
    pub readonly_path: Vec<PathBuf>,

    /// Create mode with --rootfs: the OCI config's mounts (in order, any type, options and
    /// propagation), devices (made with mknod) and rootfsPropagation, as JSON in FILE
    /// (ctr-oci writes it), built after nsenter-rs's own /proc, /dev and /sys
    #[arg(long = "oci-fs", value_name = "FILE", help_heading = "OCI runtime")]
    pub oci_fs: Option<PathBuf>,

    /// Create mode with --rootfs: no mount namespace (the caller's is kept): enter the rootfs
    /// with chroot(2) and mount nothing in it (an OCI config without a mount namespace)
    #[arg(long = "chroot", requires = "rootfs", help_heading = "OCI runtime")]
    pub chroot: bool,

    /// Print debugging information on stderr
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,

    /// The command and its arguments (default: $SHELL, else /bin/sh)
    #[arg(value_name = "CMD", trailing_var_arg = true)]
    pub cmd: Vec<OsString>,
}

/// Where `--caps` takes the capability sets from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CapsFrom {
    /// the target process
    Target,
}

/// The namespace types of `--new`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsList(pub Vec<NsKind>);

fn parse_new(s: &str) -> Result<NsList, String> {
    if s == "none" {
        // (create mode without a new namespace: ctr-oci's config that has none)
        return Ok(NsList(Vec::new()));
    }
    common::ns::parse_ns_list(s)
        .map(NsList)
        .map_err(|e| e.to_string())
}

fn parse_size(s: &str) -> Result<u64, String> {
    match common::parse::parse_bytes(s) {
        Ok(0) => Err(format!("'{s}' is not a size above 0")),
        Ok(b) => Ok(b),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_join(s: &str) -> Result<(NsKind, PathBuf), String> {
    let (kind, file) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not TYPE=FILE"))?;
    let kind: NsKind = kind
        .parse()
        .map_err(|e: common::parse::ParseError| e.to_string())?;
    if file.is_empty() {
        return Err(format!("'{s}' names no file"));
    }
    Ok((kind, PathBuf::from(file)))
}

impl Cli {
    /// Create mode: namespaces are made (`--new`), not only entered.
    pub fn is_create(&self) -> bool {
        self.new.is_some()
    }

    /// The enter-mode namespace options as (kind, optional file).
    pub fn enter_namespaces(&self) -> Vec<(NsKind, Option<PathBuf>)> {
        let user = self.user.as_ref().map(|o| o.as_ref().map(PathBuf::from));
        let all = [
            (NsKind::User, user),
            (NsKind::Cgroup, self.cgroup.clone()),
            (NsKind::Ipc, self.ipc.clone()),
            (NsKind::Uts, self.uts.clone()),
            (NsKind::Net, self.net.clone()),
            (NsKind::Pid, self.pid.clone()),
            (NsKind::Time, self.time.clone()),
            (NsKind::Mnt, self.mount.clone()),
        ];
        all.into_iter()
            .filter_map(|(k, v)| v.map(|f| (k, f)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_cli() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }

    #[test]
    fn optional_values_need_equals() {
        let c = Cli::try_parse_from(["nsenter-rs", "-t", "1", "-n", "ip", "a"]).unwrap();
        assert_eq!(c.net, Some(None));
        assert_eq!(c.cmd, vec![OsString::from("ip"), OsString::from("a")]);
        let c = Cli::try_parse_from(["nsenter-rs", "--net=/run/netns/x", "true"]).unwrap();
        assert_eq!(c.net, Some(Some(PathBuf::from("/run/netns/x"))));
    }

    #[test]
    fn join_parses() {
        assert!(parse_join("net=/x").is_ok());
        assert!(parse_join("bogus=/x").unwrap_err().contains("bogus"));
        assert!(parse_join("net").is_err());
    }
}
