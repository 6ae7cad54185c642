//! Create mode: a container's birth.
//!
//! The parent clones a child into the new namespaces, writes its ID maps, pins its
//! namespaces, moves it into its cgroup and writes the pidfile, then lets it go. The child
//! joins `--join` namespaces, sets hostname and sysctls, builds its filesystem, and execs
//! the command with the container's user, capabilities and no_new_privs. Any failure in the
//! child comes back over a close-on-exec pipe as one line; the parent then undoes what it
//! did (pins, pidfile) and exits 125 (or 126/127 for exec errors). Without `--detach` the
//! parent forwards signals and exits with the container's status; the child has
//! PR_SET_PDEATHSIG, so a SIGKILLed parent takes the container with it.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use common::ns::NsKind;
use common::undo::Undo;
use nix::sched::CloneFlags;
use nix::sys::signal::{self, Signal};
use nix::unistd::{Gid, Pid, Uid};

use crate::capset::{self, Sets};
use crate::cli::Cli;
use crate::error::{Error, IoContext, SysContext};
use crate::mounts::{self, Plan};
use crate::process::{self, Env};
use crate::settings::{IdMap, Rlimit, Sysctl};
use crate::{cgroup, pin, pty, seccomp};

/// Everything the child needs, checked before anything is created.
struct Spec {
    new: BTreeSet<NsKind>,
    joins: Vec<(NsKind, PathBuf, File)>,
    plan: Plan,
    uid_map: Vec<IdMap>,
    gid_map: Vec<IdMap>,
    deny_setgroups: bool,
    /// `--userns`: maps from the subordinate ranges (written by the setuid helpers)
    userns: Option<crate::userns::Maps>,
    /// `--prestart CMD`
    prestart: Option<String>,
    /// `--prestart-pidfile FILE`
    prestart_pidfile: Option<PathBuf>,
    /// `--rootfs-overlay OPTIONS`
    rootfs_overlay: Option<String>,
    /// `--chroot`: the rootfs without a mount namespace
    chroot: bool,
    /// `--mnt-template FILE`, where it applies (a rootfs, no user namespace, ...)
    mnt_template: Option<PathBuf>,
    /// its namespace, opened (made) by the parent before the clone
    template: Option<File>,
    hostname: Option<String>,
    domainname: Option<String>,
    loopback: bool,
    sysctls: Vec<Sysctl>,
    rlimits: Vec<Rlimit>,
    oom_score_adj: Option<i32>,
    user: Option<String>,
    groups: Option<String>,
    workdir: Option<PathBuf>,
    env: Env,
    caps: Sets,
    no_new_privs: bool,
    /// the compiled filter (None: unconfined)
    seccomp: Option<seccomp::Program>,
    init: bool,
    detach: bool,
    pin: Option<PathBuf>,
    cgroup_files: Vec<PathBuf>,
    pidfile: Option<PathBuf>,
    cmd: Vec<OsString>,
    /// Descriptors 3..3+N the command keeps (`--preserve-fds`); all others are closed.
    preserve_fds: u32,
    /// unshare the cgroup namespace in the child after it was moved into its cgroup
    late_cgroup_ns: bool,
    /// The parent has work to do before the child may run (maps, pins, cgroup, pidfile)
    /// or must know when the command runs (--detach). Without it the child runs at once
    /// and reports its own setup errors: two context switches less.
    handshake: bool,
    /// Our pid, for the child to check that we are still there.
    parent: i32,
    /// `--tty`: the command gets a pty of the container's own, at this size
    tty: bool,
    winsize: Option<rustix::termios::Winsize>,
    /// `--tty`: the child's end of the socket the pty's master comes back over
    tty_chan: Option<OwnedFd>,
    /// `--tty-socket`: the parent holds the terminal for clients attaching here
    tty_socket: Option<PathBuf>,
    /// `--wait-fifo`: the fifo (O_PATH) the process waits on before exec
    wait_fifo: Option<OwnedFd>,
    /// `--console-socket`: where the pty master goes
    console_socket: Option<PathBuf>,
    /// `--mask`, `--readonly-path`: the OCI lists, instead of the default ones
    masks: (Vec<PathBuf>, Vec<PathBuf>),
}

impl Spec {
    /// The namespaces to create, as `--new` names them: `pid,mnt,...`.
    fn new_names(&self) -> String {
        self.new
            .iter()
            .map(|k| k.proc_name())
            .collect::<Vec<_>>()
            .join(",")
    }

    fn from_cli(cli: Cli) -> Result<Spec, Error> {
        let usage = |m: String| Err(Error::Usage(m));
        for (name, on) in [
            ("-t/--target", cli.target.is_some()),
            ("--container", cli.container.is_some()),
            ("-a/--all", cli.all),
            ("-m/--mount", cli.mount.is_some()),
            ("-u/--uts", cli.uts.is_some()),
            ("-i/--ipc", cli.ipc.is_some()),
            ("-n/--net", cli.net.is_some()),
            ("-p/--pid", cli.pid.is_some()),
            ("-T/--time", cli.time.is_some()),
            ("-r/--root", cli.root.is_some()),
            ("-w/--wd", cli.wd.is_some()),
            ("-c/--join-cgroup", cli.join_cgroup),
            ("--caps", cli.caps.is_some()),
            ("--debug", cli.debug),
            ("--target-dir", cli.target_dir.is_some()),
            ("-F/--no-fork", cli.no_fork),
            ("--preserve-credentials", cli.preserve_credentials),
        ] {
            if on {
                return usage(format!(
                    "{name} is an enter-mode option; with --new use --join TYPE=FILE"
                ));
            }
        }
        let mut new: BTreeSet<NsKind> = cli
            .new
            .clone()
            .map(|n| n.0)
            .unwrap_or_default()
            .into_iter()
            .collect();
        let fs_wanted = cli.rootfs.is_some()
            || cli.oci_fs.is_some()
            || cli.mount_proc
            || !cli.bind.is_empty()
            || !cli.tmpfs.is_empty()
            || cli.read_only;
        let joined: BTreeSet<NsKind> = cli.join.iter().map(|(k, _)| *k).collect();
        if cli.chroot {
            // (the rootfs alone: nothing is mounted without a mount namespace of our own)
            for (name, on) in [
                ("--mount-proc", cli.mount_proc),
                ("--bind", !cli.bind.is_empty()),
                ("--tmpfs", !cli.tmpfs.is_empty()),
                ("--read-only", cli.read_only),
                ("--device", !cli.device.is_empty()),
                ("--oci-fs", cli.oci_fs.is_some()),
                ("--cgroup-mount", cli.cgroup_mount),
                ("--rootfs-overlay", cli.rootfs_overlay.is_some()),
                ("--mask", !cli.mask.is_empty()),
                ("--readonly-path", !cli.readonly_path.is_empty()),
                ("--tty", cli.tty || cli.console_socket.is_some()),
                ("--new=...,mnt", new.contains(&NsKind::Mnt)),
                ("--join mnt=...", joined.contains(&NsKind::Mnt)),
            ] {
                if on {
                    return usage(format!(
                        "--chroot mounts nothing (no mount namespace): not with {name}"
                    ));
                }
            }
        } else if fs_wanted && !joined.contains(&NsKind::Mnt) {
            new.insert(NsKind::Mnt);
        }
        if (cli.hostname.is_some() || cli.domainname.is_some()) && !joined.contains(&NsKind::Uts) {
            new.insert(NsKind::Uts);
        }
        if cli.map_root_user
            || !cli.uid_map.is_empty()
            || !cli.gid_map.is_empty()
            || cli.userns.is_some()
        {
            new.insert(NsKind::User);
        }
        if cli.userns.is_some()
            && (cli.map_root_user || !cli.uid_map.is_empty() || !cli.gid_map.is_empty())
        {
            return usage(
                "--userns and --map-root-user/--uid-map/--gid-map exclude each other".into(),
            );
        }
        if fs_wanted && joined.contains(&NsKind::Mnt) {
            // the filesystem is built in the joined namespace (as runc does): never in ours,
            // which is the host's
            let own = std::fs::metadata("/proc/self/ns/mnt")
                .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
                .ok();
            let path = cli
                .join
                .iter()
                .find(|(k, _)| *k == NsKind::Mnt)
                .map(|(_, p)| p);
            let theirs = path.and_then(|p| {
                std::fs::metadata(p)
                    .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
                    .ok()
            });
            if theirs.is_none() || theirs == own {
                return usage(format!(
                    "--rootfs, --mount-proc, --bind, --tmpfs and --read-only with --join mnt={}: that is our own mount namespace (the filesystem would be built on the host); use a new one",
                    path.map(|p| p.display().to_string()).unwrap_or_default()
                ));
            }
        }
        if cli.oci_fs.is_some() && cli.rootfs.is_none() {
            return usage("--oci-fs needs --rootfs".into());
        }
        let oci_fs = match &cli.oci_fs {
            Some(p) => Some(crate::oci::load_fs(p)?),
            None => None,
        };
        if cli.loopback && !new.contains(&NsKind::Net) {
            return usage("--loopback needs a new net namespace (--new=...,net)".into());
        }
        if cli.rootfs.is_none() && !cli.device.is_empty() {
            return usage("--device needs --rootfs".into());
        }
        if cli.cgroup_mount && cli.cgroup.is_none() {
            return usage("--cgroup-mount needs --cgroup PATH".into());
        }
        if cli.rootfs.is_none() && cli.rootfs_overlay.is_some() {
            return usage("--rootfs-overlay needs --rootfs".into());
        }
        if cli.rootfs.is_none() && cli.mnt_template.is_some() {
            return usage("--mnt-template needs --rootfs".into());
        }
        if cli.rootfs.is_none() && cli.read_only {
            return usage("--read-only needs --rootfs".into());
        }
        if cli.tty && cli.detach && cli.console_socket.is_none() {
            return usage(
                "--tty with --detach: nothing would hold the terminal (not supported)".into(),
            );
        }
        if cli.map_root_user && (!cli.uid_map.is_empty() || !cli.gid_map.is_empty()) {
            return usage("--map-root-user and --uid-map/--gid-map exclude each other".into());
        }

        let mut joins = Vec::new();
        for (kind, path) in &cli.join {
            if new.contains(kind) {
                return usage(format!(
                    "namespace type '{kind}' is both in --new and --join"
                ));
            }
            if *kind == NsKind::Time {
                return usage(format!(
                    "--join {kind}=... is not supported in create mode: use enter mode (nsenter-rs --{kind}=FILE)"
                ));
            }
            let f = File::open(path).map_err(|source| Error::OpenNs {
                kind: *kind,
                path: path.clone(),
                source,
            })?;
            joins.push((*kind, path.clone(), f));
        }
        // user first: it may grant the rights to join the rest
        joins.sort_by_key(|(k, _, _)| NsKind::ALL.iter().position(|a| a == k));

        let have = |k: NsKind| new.contains(&k) || joined.contains(&k);
        for s in &cli.sysctl {
            if !have(s.ns) {
                return usage(format!(
                    "sysctl '{}' needs a new or joined {} namespace (--new={})",
                    s.key, s.ns, s.ns
                ));
            }
        }

        let rootfs = match &cli.rootfs {
            None => None,
            Some(r) => {
                let md = std::fs::metadata(r).io(|| format!("rootfs {}", r.display()))?;
                if !md.is_dir() {
                    return Err(Error::Io {
                        what: format!("rootfs {} is not a directory", r.display()),
                        source: std::io::Error::from_raw_os_error(libc::ENOTDIR),
                    });
                }
                Some(std::fs::canonicalize(r).io(|| format!("rootfs {}", r.display()))?)
            }
        };
        for b in &cli.bind {
            std::fs::metadata(&b.src).io(|| format!("bind source {}", b.src.display()))?;
        }

        // user namespace maps: root inside is us outside unless told otherwise
        let (mut uid_map, mut gid_map) = (cli.uid_map.clone(), cli.gid_map.clone());
        let mut deny_setgroups = false;
        if new.contains(&NsKind::User) && uid_map.is_empty() && gid_map.is_empty() {
            uid_map = vec![IdMap {
                inside: 0,
                outside: Uid::effective().as_raw(),
                count: 1,
            }];
            gid_map = vec![IdMap {
                inside: 0,
                outside: Gid::effective().as_raw(),
                count: 1,
            }];
            deny_setgroups = true;
        }

        let userns = match cli.userns {
            Some(mode) => Some(crate::userns::maps(mode)?),
            None => None,
        };

        let user = match &cli.user {
            None => None,
            Some(None) => {
                return usage("--user needs a value in create mode: --user UID[:GID]".into());
            }
            Some(Some(u)) => Some(u.to_string_lossy().into_owned()),
        };
        if let Some(u) = &user {
            if u.is_empty() {
                return usage("--user needs a value in create mode: --user UID[:GID]".into());
            }
        }
        let cgroup_files = match &cli.cgroup {
            None => Vec::new(),
            Some(None) => {
                return usage("--cgroup needs a value in create mode: --cgroup PATH".into());
            }
            Some(Some(p)) => cgroup::procs_files(p)?,
        };

        let mut env = if cli.clear_env {
            Env::default()
        } else {
            Env::inherited()
        };
        for f in &cli.env_file {
            env.assign_file(f)?;
        }
        for e in cli.env.iter().filter(|e| !e.is_empty()) {
            env.assign(e);
        }
        if cli.env.iter().any(|e| e.is_empty()) {
            return usage("--env needs a value in create mode: --env K=V".into());
        }
        if env.get("PATH").is_none() {
            env.set("PATH".into(), process::DEFAULT_PATH.into());
        }
        // --pin without a command: the namespaces are made and pinned by this process itself
        // (net, uts and ipc need no process of their own to exist); nothing runs
        let pin_only = cli.cmd.is_empty() && cli.pin.is_some();
        if cli.cmd.is_empty() && !pin_only {
            return usage(
                "create mode needs a command: nsenter-rs --new=TYPES [OPTIONS] -- CMD...".into(),
            );
        }
        if pin_only {
            if let Some(k) = new
                .iter()
                .find(|k| !matches!(k, NsKind::Net | NsKind::Uts | NsKind::Ipc))
            {
                return usage(format!(
                    "--pin without a command makes only net, uts and ipc namespaces ('{k}' needs a command)"
                ));
            }
            let needs_cmd = [
                ("--join", !joins.is_empty()),
                ("--cgroup", cli.cgroup.is_some()),
                ("--pidfile", cli.pidfile.is_some()),
                ("--detach", cli.detach),
                ("--init", cli.init),
                ("--rlimit", !cli.rlimit.is_empty()),
                ("--user", cli.user.is_some()),
                ("--groups", cli.groups.is_some()),
                ("--workdir", cli.workdir.is_some()),
                ("--env", !cli.env.is_empty()),
                ("--env-file", !cli.env_file.is_empty()),
                ("--clear-env", cli.clear_env),
                ("--cap-add", !cli.cap_add.is_empty()),
                ("--cap-drop", !cli.cap_drop.is_empty()),
                ("--privileged", cli.privileged),
                ("--allow-new-privs", cli.allow_new_privs),
                ("--seccomp", cli.seccomp.is_some()),
                ("--tty", cli.tty),
                ("--prestart", cli.prestart.is_some()),
                ("--userns", cli.userns.is_some()),
            ];
            if let Some((name, _)) = needs_cmd.iter().find(|(_, on)| *on) {
                return usage(format!("{name} needs a command"));
            }
        }

        let add: Vec<_> = cli
            .cap_add
            .iter()
            .flat_map(|c| c.0.iter())
            .copied()
            .collect();
        let drop: Vec<_> = cli
            .cap_drop
            .iter()
            .flat_map(|c| c.0.iter())
            .copied()
            .collect();
        let caps = match &cli.cap_sets {
            Some(sets) => sets.clone(),
            None => Sets::uniform(&capset::container_set(cli.privileged, &add, &drop)),
        };
        // Docker's default profile unless told otherwise; --privileged means unconfined
        let choice = cli.seccomp.clone().unwrap_or(if cli.privileged {
            seccomp::Choice::Unconfined
        } else {
            seccomp::Choice::Default
        });
        let seccomp = match pin_only {
            true => None,
            false => seccomp::compile(&choice, &caps.bounding)?,
        };

        let wait_fifo = match &cli.wait_fifo {
            Some(p) => Some(crate::oci::open_fifo(p)?),
            None => None,
        };
        let tty = cli.tty || cli.console_socket.is_some();
        // the template's namespace belongs to the host's user namespace: a container with a
        // user namespace of its own could not enter it; the others build what the template
        // path does not (an OCI config's mounts, an overlay made inside)
        let mnt_template = cli.mnt_template.clone().filter(|_| {
            new.contains(&NsKind::Mnt)
                && !new.contains(&NsKind::User)
                && !joined.contains(&NsKind::User)
                && oci_fs.is_none()
                && cli.rootfs_overlay.is_none()
        });
        let late_cgroup_ns = new.contains(&NsKind::Cgroup) && !cgroup_files.is_empty();
        let handshake = new.contains(&NsKind::User)
            || cli.pin.is_some()
            || !cgroup_files.is_empty()
            || cli.pidfile.is_some()
            || cli.tty_socket.is_some()
            || cli.prestart.is_some()
            || wait_fifo.is_some()
            || cli.console_socket.is_some()
            || cli.detach;
        Ok(Spec {
            plan: Plan {
                rootfs,
                mount_proc: cli.mount_proc,
                binds: cli.bind.clone(),
                tmpfs: cli.tmpfs.clone(),
                devices: cli.device.clone(),
                read_only: cli.read_only,
                mask: !cli.privileged && cli.mask.is_empty() && cli.readonly_path.is_empty(),
                in_userns: new.contains(&NsKind::User),
                new_net: new.contains(&NsKind::Net),
                privileged: cli.privileged,
                shm_size: cli.shm_size,
                mkdir_workdir: match cli.mkdir_workdir {
                    true => cli.workdir.clone(),
                    false => None,
                },
                oci: oci_fs,
                cgroups: if cli.cgroup_mount {
                    cgroup::mount_sources(&cgroup_files)
                } else {
                    Vec::new()
                },
            },
            new,
            joins,
            uid_map,
            gid_map,
            deny_setgroups,
            userns,
            prestart: cli.prestart,
            prestart_pidfile: cli.prestart_pidfile,
            rootfs_overlay: cli.rootfs_overlay,
            mnt_template,
            template: None,
            chroot: cli.chroot,
            hostname: cli.hostname,
            domainname: cli.domainname,
            loopback: cli.loopback,
            sysctls: cli.sysctl,
            rlimits: cli.rlimit,
            oom_score_adj: cli.oom_score_adj,
            user,
            groups: cli.groups,
            workdir: cli.workdir,
            env,
            caps,
            no_new_privs: !cli.allow_new_privs,
            seccomp,
            init: cli.init,
            detach: cli.detach,
            pin: cli.pin,
            cgroup_files,
            pidfile: cli.pidfile,
            cmd: cli.cmd,
            preserve_fds: cli.preserve_fds,
            late_cgroup_ns,
            handshake,
            parent: std::process::id() as i32,
            tty,
            winsize: match cli.console_size {
                Some((rows, cols)) => Some(rustix::termios::Winsize {
                    ws_row: rows,
                    ws_col: cols,
                    ws_xpixel: 0,
                    ws_ypixel: 0,
                }),
                None if cli.tty => pty::caller_size(),
                None => None,
            },
            tty_chan: None,
            tty_socket: cli.tty_socket,
            wait_fifo,
            console_socket: cli.console_socket,
            masks: (cli.mask, cli.readonly_path),
        })
    }
}

pub fn run(cli: Cli) -> Result<i32, Error> {
    let dry_run = cli.dry_run;
    let json = cli.json;
    let mut spec = Spec::from_cli(cli)?;
    if dry_run {
        return dry_run_report(&spec, json);
    }
    if spec.cmd.is_empty() {
        return pin_here(&spec);
    }
    if let Some(f) = &spec.mnt_template {
        spec.template = crate::template::open_or_make(f)?.map(File::from);
    }

    let pipe = || {
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(crate::resolve::errno)
            .sys(|| "cannot create a pipe".into())
    };
    let (sync_r, sync_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    // --tty: the pty's master comes back over this (ours, the child's)
    let tty_chan = match spec.tty {
        true => {
            let (ours, theirs) = pty::channel()?;
            spec.tty_chan = Some(theirs);
            Some(ours)
        }
        false => None,
    };
    process::block_signals()?;

    if spec.new.contains(&NsKind::Time) {
        // a time namespace applies to children only: ours becomes the child's
        nix::sched::unshare(CloneFlags::from_bits_retain(libc::CLONE_NEWTIME))
            .sys(|| "cannot create a time namespace".into())?;
    }
    // --join pid=FILE: a pid namespace applies to children only; ours becomes the child's
    // birthplace (the command is not its PID 1: the namespace's own init is)
    for (kind, path, f) in spec.joins.iter().filter(|(k, _, _)| *k == NsKind::Pid) {
        nix::sched::setns(f.as_fd(), CloneFlags::CLONE_NEWPID).map_err(|source| Error::Setns {
            kind: *kind,
            path: path.clone(),
            source,
        })?;
    }
    let mut flags = 0;
    for k in &spec.new {
        match k {
            NsKind::Time => {}
            NsKind::Cgroup if spec.late_cgroup_ns => {}
            // (made by the child from the template)
            NsKind::Mnt if spec.template.is_some() => {}
            k => flags |= k.clone_flag(),
        }
    }
    let mut birth = cgroup::Birth::plan(&spec.cgroup_files, !spec.new.contains(&NsKind::User));
    common::debug!("clone with flags {flags:#x}, cgroup {birth:?}");
    let ret = clone_child(flags, &mut birth);
    if ret < 0 {
        return Err(Error::Sys {
            what: format!("cannot create namespaces {}", spec.new_names()),
            source: nix::errno::Errno::last(),
        });
    }
    if ret == 0 {
        drop(sync_w);
        drop(err_r);
        child_main(spec, &birth.child_tasks, sync_r, err_w);
    }
    let child = Pid::from_raw(ret as i32);
    drop(sync_r);
    drop(err_w);
    drop(spec.tty_chan.take());
    if !spec.handshake {
        // the child reports its own setup errors; its status is ours
        drop(sync_w);
        drop(err_r);
        return Ok(wait_or_relay(child, tty_chan.as_ref(), None));
    }

    let mut undo = Undo::new();
    // (--prestart-pidfile: the prestart's background process, ended with the command)
    let background = match prepare_child(&spec, child, &birth.by_parent, &mut undo) {
        Ok(b) => b,
        Err(e) => {
            let _ = signal::kill(child, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(child, None);
            return Err(e);
        }
    };
    let background = crate::userns::Background(background);
    // go: one byte, so the child can tell a parent that died (EOF alone) from a go-ahead
    let _ = File::from(sync_w).write_all(b"G");

    let mut report = String::new();
    let _ = File::from(err_r).read_to_string(&mut report);
    if spec.wait_fifo.is_some() && report.trim_end() == crate::oci::READY {
        // --wait-fifo: built and waiting before exec
        report.clear();
    }
    if !report.is_empty() {
        let status = nix::sys::wait::waitpid(child, None);
        let (code, msg) = parse_report(&report);
        common::debug!("child failed: {msg} (status {status:?})");
        return Err(Error::Child { code, msg });
    }
    undo.disarm();
    if let Some(sock) = &spec.console_socket {
        let sent = match tty_chan.as_ref().map(pty::receive_master) {
            Some(Ok(Some(master))) => crate::oci::connect_console(sock)
                .and_then(|fd| crate::oci::send_console(&fd, sock, &master)),
            Some(Err(e)) => Err(e),
            _ => Err(Error::Setup("the container sent no pty".into())),
        };
        if let Err(e) = sent {
            let _ = signal::kill(child, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(child, None);
            return Err(e);
        }
    }
    // --tty-socket: listening before the pidfile says the container runs
    let held = match &spec.tty_socket {
        None => None,
        Some(p) => match pty::listen(p) {
            Ok(l) => Some((l, p.clone())),
            Err(e) => {
                let _ = signal::kill(child, Signal::SIGKILL);
                let _ = nix::sys::wait::waitpid(child, None);
                return Err(e);
            }
        },
    };
    // the pidfile once the command runs (its exec succeeded, the report pipe closed empty):
    // a launcher waiting for it never sees the pid of a command that could not start
    if let Some(f) = &spec.pidfile {
        if let Err(e) = common::state::atomic_write(f, format!("{child}\n").as_bytes()) {
            let _ = signal::kill(child, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(child, None);
            if let Some((_, p)) = &held {
                let _ = std::fs::remove_file(p);
            }
            return Err(Error::Io {
                what: format!("cannot write pidfile {}", f.display()),
                source: e,
            });
        }
    }
    if spec.detach {
        if spec.wait_fifo.is_none() {
            // (with --wait-fifo our stdout is the container's: the PID goes to --pidfile only)
            println!("{child}");
        }
        background.keep();
        return Ok(common::exit::OK);
    }
    Ok(wait_or_relay(child, tty_chan.as_ref(), held))
}

/// Wait for the container's first process; with `--tty`, relaying its pty meanwhile (once
/// the child sent it: a child that failed before sends none, and tells by its status).
/// With `held` (`--tty-socket`: the listener and its path) the terminal is held for clients.
fn wait_or_relay(child: Pid, tty_chan: Option<&OwnedFd>, held: Option<(OwnedFd, PathBuf)>) -> i32 {
    // (we may wait as long as the container lives: our code out of our resident set)
    common::memory::drop_code_pages();
    match (tty_chan.map(pty::receive_master), held) {
        (Some(Ok(Some(master))), Some((listener, path))) => {
            pty::hold(master, child, listener, &path)
        }
        (Some(Ok(Some(master))), None) => pty::relay(master, child),
        (_, held) => {
            if let Some((_, path)) = held {
                let _ = std::fs::remove_file(path);
            }
            process::wait_forwarding(child, false)
        }
    }
}

/// Hostname, domain name and sysctls, in our new namespaces.
fn set_names_and_sysctls(spec: &Spec) -> Result<(), Error> {
    if let Some(h) = &spec.hostname {
        nix::unistd::sethostname(h).sys(|| format!("cannot set hostname '{h}'"))?;
    }
    if let Some(d) = &spec.domainname {
        rustix::system::setdomainname(d.as_bytes()).map_err(|e| Error::Sys {
            what: format!("cannot set domain name '{d}'"),
            source: crate::resolve::errno(e),
        })?;
    }
    for s in &spec.sysctls {
        std::fs::write(s.path(), &s.value)
            .io(|| format!("cannot set sysctl {}={}", s.key, s.value))?;
    }
    Ok(())
}

/// `--pin DIR` without a command: move this process into the new namespaces, set them up
/// (lo, hostname, sysctls) and pin them; they live on in the pins once we exit.
fn pin_here(spec: &Spec) -> Result<i32, Error> {
    // --join pid=FILE: a pid namespace applies to children only; ours becomes the child's
    // birthplace (the command is not its PID 1: the namespace's own init is)
    for (kind, path, f) in spec.joins.iter().filter(|(k, _, _)| *k == NsKind::Pid) {
        nix::sched::setns(f.as_fd(), CloneFlags::CLONE_NEWPID).map_err(|source| Error::Setns {
            kind: *kind,
            path: path.clone(),
            source,
        })?;
    }
    let mut flags = 0;
    for k in &spec.new {
        flags |= k.clone_flag();
    }
    nix::sched::unshare(CloneFlags::from_bits_retain(flags))
        .sys(|| format!("cannot create namespaces {}", spec.new_names()))?;
    if spec.loopback {
        loopback_up()?;
    }
    set_names_and_sysctls(spec)?;
    let dir = spec.pin.as_deref().expect("pin-only mode has --pin");
    let kinds: Vec<NsKind> = spec.new.iter().copied().collect();
    let mut undo = Undo::new();
    pin::pin(std::process::id() as i32, &kinds, dir, &mut undo)?;
    undo.disarm();
    Ok(common::exit::OK)
}

/// Fork-like clone into new namespaces (`flags`); returns what clone returns. When `birth`
/// has a cgroup2 directory the child is made in it with clone3 (CLONE_INTO_CGROUP); if the
/// kernel refuses that, a plain clone, and the parent moves the child there afterwards.
fn clone_child(flags: libc::c_int, birth: &mut cgroup::Birth) -> libc::c_long {
    if let Some((dir, procs)) = birth.v2.take() {
        let args = process::CloneArgs::into_cgroup(flags as u64, &dir);
        let ret = process::fork_like(flags, Some(&args));
        if ret >= 0 {
            return ret;
        }
        common::debug!(
            "clone3 into {}: {}",
            procs.display(),
            nix::errno::Errno::last()
        );
        birth.by_parent.push(procs);
    }
    process::fork_like(flags, None)
}

/// The parent's part, while the child waits: ID maps, pins, cgroup.
fn prepare_child(
    spec: &Spec,
    child: Pid,
    cgroup_procs: &[PathBuf],
    undo: &mut Undo,
) -> Result<Option<OwnedFd>, Error> {
    let pid = child.as_raw();
    if let Some(maps) = &spec.userns {
        crate::userns::write(pid, maps)?;
    } else if spec.new.contains(&NsKind::User) {
        if spec.deny_setgroups {
            write_proc(pid, "setgroups", "deny")?;
        }
        if !spec.uid_map.is_empty() {
            write_proc(pid, "uid_map", &IdMap::render(&spec.uid_map))?;
        }
        if !spec.gid_map.is_empty() {
            write_proc(pid, "gid_map", &IdMap::render(&spec.gid_map))?;
        }
    }
    if let Some(dir) = &spec.pin {
        let kinds: Vec<NsKind> = spec
            .new
            .iter()
            .copied()
            .filter(|k| !(*k == NsKind::Cgroup && spec.late_cgroup_ns))
            .collect();
        pin::pin(pid, &kinds, dir, undo)?;
    }
    cgroup::join(pid, cgroup_procs)?;
    match &spec.prestart {
        Some(cmd) => crate::userns::prestart(cmd, pid, spec.prestart_pidfile.as_deref()),
        None => Ok(None),
    }
}

/// Set IFF_UP on `lo` of our net namespace (SIOCGIFFLAGS, SIOCSIFFLAGS on a datagram socket).
fn loopback_up() -> Result<(), Error> {
    let fail = |source| Error::Sys {
        what: "cannot bring up the loopback interface".into(),
        source,
    };
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    let sock = rustix::net::socket_with(
        AddressFamily::INET,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| fail(crate::resolve::errno(e)))?;
    set_iff_up(&sock, b"lo").map_err(fail)
}

/// SIOCGIFFLAGS then SIOCSIFFLAGS with IFF_UP added, for interface `name`, on `sock`.
fn set_iff_up(sock: &OwnedFd, name: &[u8]) -> Result<(), nix::errno::Errno> {
    // struct ifreq: the name, then a union whose first member here is ifr_flags
    #[repr(C)]
    struct IfReq {
        name: [u8; libc::IFNAMSIZ],
        flags: libc::c_short,
        _rest: [u8; 22],
    }
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        flags: 0,
        _rest: [0; 22],
    };
    let n = name.len().min(libc::IFNAMSIZ - 1);
    req.name[..n].copy_from_slice(&name[..n]);
    let fd = std::os::fd::AsRawFd::as_raw_fd(sock);
    // SAFETY: `req` is a whole `struct ifreq` (40 bytes, the name NUL-terminated) that lives
    // across both calls; these two ioctls read and write only that struct, and `fd` is a
    // socket we hold open.
    unsafe {
        if libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut req) < 0 {
            return Err(nix::errno::Errno::last());
        }
        req.flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &req) < 0 {
            return Err(nix::errno::Errno::last());
        }
    }
    Ok(())
}

fn write_proc(pid: i32, name: &str, text: &str) -> Result<(), Error> {
    let path = format!("/proc/{pid}/{name}");
    std::fs::write(&path, text).io(|| {
        format!(
            "cannot write '{}' to {path}",
            text.trim().replace('\n', ", ")
        )
    })
}

/// `CODE\tmessage` from the child.
fn parse_report(report: &str) -> (i32, String) {
    let line = report.lines().next().unwrap_or("");
    match line.split_once('\t') {
        Some((code, msg)) => (
            code.parse().unwrap_or(common::exit::CANNOT_RUN),
            msg.to_string(),
        ),
        None => (common::exit::CANNOT_RUN, line.to_string()),
    }
}

fn dry_run_report(spec: &Spec, json: bool) -> Result<i32, Error> {
    let new: Vec<&str> = spec.new.iter().map(|k| k.proc_name()).collect();
    let joins: Vec<serde_json::Value> = spec
        .joins
        .iter()
        .map(|(k, p, f)| {
            use std::os::unix::fs::MetadataExt;
            serde_json::json!({
                "type": k.proc_name(),
                "path": p,
                "inode": f.metadata().map(|m| m.ino()).ok(),
            })
        })
        .collect();
    let cmd: Vec<String> = spec
        .cmd
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let doc = serde_json::json!({
        "mode": "create",
        "new": new,
        "join": joins,
        "rootfs": spec.plan.rootfs,
        "devices": spec.plan.devices.iter().map(|d| serde_json::json!({
            "host": d.host,
            "container": d.container,
            "permissions": d.perms,
        })).collect::<Vec<_>>(),
        "capabilities": format!("{:016x}", capset::mask(&spec.caps.effective)),
        "no_new_privs": spec.no_new_privs,
        "command": cmd,
    });
    if json {
        common::output::emit_json(&doc).map_err(Error::Output)?;
    } else {
        println!(
            "create {} join [{}] run {}",
            new.join(","),
            spec.joins
                .iter()
                .map(|(k, p, _)| format!("{k}={}", p.display()))
                .collect::<Vec<_>>()
                .join(","),
            cmd.join(" ")
        );
    }
    Ok(common::exit::OK)
}

// ------------------------------------------------------------------------------ the child

fn child_main(spec: Spec, cgroup_tasks: &[PathBuf], sync_r: OwnedFd, err_w: OwnedFd) -> ! {
    let handshake = spec.handshake;
    let mut err_w = Some(err_w);
    let err = match child_setup(spec, cgroup_tasks, sync_r, &mut err_w) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    use common::HasExitCode;
    let code = e_code(&err);
    let msg = common::run::error_line(&err);
    if let (true, Some(w)) = (handshake, err_w) {
        let _ = File::from(w).write_all(format!("{code}\t{msg}\n").as_bytes());
    } else {
        eprintln!("{}: error: {msg}", common::run::tool_name());
    }
    process::exit_now(code);

    fn e_code(e: &Error) -> i32 {
        e.exit_code()
    }
}

fn child_setup(
    mut spec: Spec,
    cgroup_tasks: &[PathBuf],
    sync_r: OwnedFd,
    err_w: &mut Option<OwnedFd>,
) -> Result<std::convert::Infallible, Error> {
    // the caller's terminal is not the container's controlling terminal
    process::new_session()?;
    if !spec.detach {
        nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
            .sys(|| "cannot set the parent-death signal".into())?;
    }
    // our v1 cgroups, while the parent does its part (the host's /sys/fs/cgroup is still
    // reachable: nothing is mounted yet)
    cgroup::join_self(cgroup_tasks)?;
    // wait until the parent has written our maps, pins and cgroup
    let parent_alive = if spec.handshake {
        let mut buf = [0u8; 1];
        matches!(File::from(sync_r).read(&mut buf), Ok(1))
    } else {
        drop(sync_r);
        // /proc is still the host's: our parent there is the pid the parent had
        std::fs::read_to_string("/proc/self/stat").is_ok_and(|st| {
            st.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1).map(str::to_string))
                .is_some_and(|ppid| ppid == spec.parent.to_string())
        })
    };
    if !parent_alive {
        // the parent is gone before letting us run: run nothing
        process::exit_now(common::exit::CANNOT_RUN);
    }
    // from here on this process becomes the container: nothing inside may open our
    // /proc/PID/exe (the parent has written our ID maps: /proc/PID files of a non-dumpable
    // process belong to root, which an unprivileged parent is not)
    process::make_undumpable()?;

    if spec.late_cgroup_ns {
        nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP)
            .sys(|| "cannot create a cgroup namespace".into())?;
    }
    for (kind, path, f) in spec.joins.iter().filter(|(k, _, _)| *k != NsKind::Pid) {
        nix::sched::setns(f.as_fd(), CloneFlags::from_bits_retain(kind.clone_flag())).map_err(
            |source| Error::Setns {
                kind: *kind,
                path: path.clone(),
                source,
            },
        )?;
    }
    if spec.new.contains(&NsKind::User) {
        // become root of the new namespace when root is mapped
        let _ = nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0));
        let _ = nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0));
    }
    if spec.loopback {
        loopback_up()?;
    }
    set_names_and_sysctls(&spec)?;
    let joined_mnt = spec.joins.iter().any(|(k, _, _)| *k == NsKind::Mnt);
    if spec.new.contains(&NsKind::Mnt) || (joined_mnt && spec.plan.rootfs.is_some()) {
        if let (Some(opts), Some(root)) = (&spec.rootfs_overlay, &spec.plan.rootfs) {
            crate::userns::mount_overlay(root, opts)?;
        }
        match spec.template.take() {
            Some(t) => {
                // what we take of the host's tree, opened while we still see it (and the
                // host's namespace, to come back to)
                let home = File::open("/proc/self/ns/mnt")
                    .io(|| "cannot open our mount namespace".into())?;
                let mut host = mounts::Host::clone_for(&spec.plan)?;
                crate::template::enter(&OwnedFd::from(t))?;
                match mounts::setup(&spec.plan, &mut host) {
                    // a bind source with a pinned mount namespace below it (a template's
                    // pin, `unshare --mount=FILE`): the kernel attaches no copy holding one,
                    // where a bind of the host's tree leaves it out. Built again that way,
                    // from a copy of the host's namespace (what we mounted so far is dropped
                    // with the template's copy)
                    Err(Error::Sys {
                        source: nix::errno::Errno::ELOOP,
                        what,
                    }) => {
                        common::debug!("{what}: ELOOP from the template, copying the host's");
                        drop(host);
                        crate::template::leave(&OwnedFd::from(home))?;
                        mounts::setup(&spec.plan, &mut mounts::Host::direct())?;
                    }
                    r => r?,
                }
            }
            None => mounts::setup(&spec.plan, &mut mounts::Host::direct())?,
        }
        if spec.plan.rootfs.is_some() {
            crate::oci::apply_masks(&spec.masks.0, &spec.masks.1)?;
        }
        if let Some(fs) = &spec.plan.oci {
            crate::oci::root_propagation(fs)?;
        }
    } else if let (true, Some(root)) = (spec.chroot, &spec.plan.rootfs) {
        // no mount namespace: the rootfs by chroot, nothing mounted (the wait fifo is
        // reopened through our fd folder, opened while /proc is still reachable)
        crate::oci::keep_fd_dir()?;
        nix::unistd::chroot(root).sys(|| format!("cannot chroot into {}", root.display()))?;
        nix::unistd::chdir("/").sys(|| "cannot change directory to /".to_string())?;
    }
    for r in &spec.rlimits {
        set_rlimit(r)?;
    }
    if let Some(n) = spec.oom_score_adj {
        std::fs::write("/proc/self/oom_score_adj", n.to_string()).map_err(|e| {
            let hint = match e.raw_os_error() {
                Some(libc::EACCES | libc::EPERM) => " (lowering it needs CAP_SYS_RESOURCE)",
                _ => "",
            };
            Error::Setup(format!("cannot set oom_score_adj to {n}: {e}{hint}"))
        })?;
    }
    if let Some(chan) = spec.tty_chan.take() {
        // (after pivot_root: the container's own devpts, and its /dev/console)
        pty::container_side(chan, spec.winsize, spec.plan.rootfs.is_some())?;
    }

    if spec.init {
        let ret = process::fork_like(0, None);
        if ret < 0 {
            return Err(Error::Sys {
                what: "cannot fork the command".into(),
                source: nix::errno::Errno::last(),
            });
        }
        match ret {
            pid if pid > 0 => {
                let child = Pid::from_raw(pid as i32);
                // pid 1: only the command's setup may report errors from here on
                drop(err_w.take());
                // pid 1 never execs: what the caller left open is closed here for real
                process::close_fds_now(spec.preserve_fds);
                // the init has no more power than the container (it is what
                // `nsenter-rs --caps=target` copies); it needs none to wait and signal
                if !spec.no_new_privs {
                    init_seccomp(&spec, child);
                }
                let _ = capset::apply_bounding(&spec.caps);
                let _ = capset::apply_process_sets(&spec.caps);
                if spec.no_new_privs {
                    let _ = nix::sys::prctl::set_no_new_privs();
                    init_seccomp(&spec, child);
                }
                let code = process::wait_forwarding(child, true);
                process::exit_now(code);
            }
            _ => {
                if !spec.detach {
                    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
                        .sys(|| "cannot set the parent-death signal".into())?;
                }
            }
        }
    }
    if spec.tty {
        // the command's own session (under --init: pid 1 keeps the one it leads)
        pty::take_controlling(spec.init)?;
    }
    finish_and_exec(&spec, err_w)
}

fn set_rlimit(r: &Rlimit) -> Result<(), Error> {
    use nix::sys::resource::{getrlimit, setrlimit};
    let (_, cur_hard) = getrlimit(r.resource).sys(|| format!("cannot read rlimit {}", r.name))?;
    let hard = r.hard.unwrap_or(cur_hard.max(r.soft));
    let show = |v: u64| {
        if v == libc::RLIM_INFINITY {
            "unlimited".to_string()
        } else {
            v.to_string()
        }
    };
    match setrlimit(r.resource, r.soft, hard) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EPERM) if hard > cur_hard => Err(Error::RlimitAboveHard {
            what: format!(
                "cannot raise rlimit {} to {}:{}",
                r.name,
                show(r.soft),
                show(hard)
            ),
            hard: show(cur_hard),
        }),
        Err(source) => Err(Error::Sys {
            what: format!(
                "cannot set rlimit {} to {}:{}",
                r.name,
                show(r.soft),
                show(hard)
            ),
            source,
        }),
    }
}

/// User, working directory, command lookup, capabilities, no_new_privs, exec.
fn finish_and_exec(
    spec: &Spec,
    err_w: &mut Option<OwnedFd>,
) -> Result<std::convert::Infallible, Error> {
    let (uid, gid, mut groups) = match &spec.user {
        Some(u) => lookup_user(u)?,
        None => (0, 0, None),
    };
    if let Some(g) = &spec.groups {
        groups = Some(lookup_groups(g)?);
    }
    let workdir = spec
        .workdir
        .clone()
        .or_else(|| spec.plan.rootfs.as_ref().map(|_| PathBuf::from("/")));
    if let Some(w) = &workdir {
        process::check_workdir(w)?;
        nix::unistd::chdir(w)
            .sys(|| format!("cannot change to working directory {}", w.display()))?;
        // a descriptor's magic link (or any other way) out of the root: refused (CVE-2024-21626)
        if spec.plan.rootfs.is_some() {
            let cwd = nix::unistd::getcwd().unwrap_or_default();
            if !cwd.starts_with("/") {
                return Err(Error::Setup(format!(
                    "working directory {} is outside the container's root",
                    w.display()
                )));
            }
        }
    }
    let where_ = match &spec.plan.rootfs {
        Some(r) => format!(
            " in rootfs {} (PATH {})",
            r.display(),
            spec.env.get("PATH").unwrap_or_default().to_string_lossy()
        ),
        None => format!(
            " (PATH {})",
            spec.env.get("PATH").unwrap_or_default().to_string_lossy()
        ),
    };
    let resolve = || {
        process::resolve(
            &spec.cmd[0],
            spec.env.get("PATH").unwrap_or_default(),
            &where_,
        )
    };
    // --wait-fifo: the command is looked up once started (a missing one fails the start,
    // not the create, as the OCI validation suite expects)
    let early = match spec.wait_fifo {
        None => Some(resolve()?),
        Some(_) => None,
    };

    if !spec.no_new_privs {
        // without no_new_privs the kernel wants CAP_SYS_ADMIN: load while we have it
        load_seccomp(spec)?;
    }
    capset::apply_bounding(&spec.caps).map_err(|e| Error::Caps(e.to_string()))?;
    let switch = spec.user.is_some() || spec.groups.is_some();
    if switch {
        nix::sys::prctl::set_keepcaps(true).sys(|| "cannot keep capabilities".into())?;
        if let Some(gs) = &groups {
            let gs: Vec<Gid> = gs.iter().map(|g| Gid::from_raw(*g)).collect();
            nix::unistd::setgroups(&gs).sys(|| "cannot set supplementary groups".into())?;
        } else {
            // no supplementary groups beyond the user's own (fails harmlessly when denied)
            let _ = nix::unistd::setgroups(&[]);
        }
        let g = Gid::from_raw(gid);
        nix::unistd::setresgid(g, g, g).sys(|| format!("cannot set group ID {gid}"))?;
        let u = Uid::from_raw(uid);
        nix::unistd::setresuid(u, u, u).sys(|| format!("cannot set user ID {uid}"))?;
        nix::sys::prctl::set_keepcaps(false).sys(|| "cannot reset keepcaps".into())?;
    }
    capset::apply_process_sets(&spec.caps).map_err(|e| Error::Caps(e.to_string()))?;
    if spec.no_new_privs {
        nix::sys::prctl::set_no_new_privs().sys(|| "cannot set no_new_privs".into())?;
    }
    if !spec.detach {
        // a change of credentials clears the parent-death signal: set it again
        nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
            .sys(|| "cannot set the parent-death signal".into())?;
    }
    let env = spec.env.entries();
    if let Some(fifo) = &spec.wait_fifo {
        // --wait-fifo: everything is built; wait for `start`
        crate::oci::wait_start(fifo, err_w.take())?;
    }
    let path = match early {
        Some(p) => p,
        None => resolve()?,
    };
    process::close_fds_on_exec(spec.preserve_fds)?;
    process::reset_signals();
    if spec.no_new_privs {
        // the last step: the filter sees only the command's own calls (and execve)
        load_seccomp(spec)?;
    }
    Err(process::exec(&path, &spec.cmd, &env))
}

fn load_seccomp(spec: &Spec) -> Result<(), Error> {
    match &spec.seccomp {
        Some(p) => seccomp::load(p),
        None => Ok(()),
    }
}

/// `--init`: pid 1 gets the container's filter too. It can no longer report over the error
/// pipe; if the filter cannot be loaded, it says so, takes the command down and exits 125.
fn init_seccomp(spec: &Spec, child: Pid) {
    if let Err(e) = load_seccomp(spec) {
        eprintln!(
            "{}: error: {}",
            common::run::tool_name(),
            common::run::error_line(&e)
        );
        let _ = signal::kill(child, Signal::SIGKILL);
        process::exit_now(common::exit::CANNOT_RUN);
    }
}

/// `UID[:GID]` or `NAME[:GROUP]`, names from the container's /etc/passwd and /etc/group.
fn lookup_user(spec: &str) -> Result<(u32, u32, Option<Vec<u32>>), Error> {
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let entry = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 4 && (f[0] == u || f[2] == u));
    let uid = match u.parse::<u32>() {
        Ok(n) => n,
        Err(_) => entry
            .as_ref()
            .and_then(|f| f[2].parse().ok())
            .ok_or_else(|| {
                Error::Setup(format!(
                    "user '{u}' not found in the container's /etc/passwd"
                ))
            })?,
    };
    let gid = match g {
        Some(g) => lookup_group(g)?,
        None => entry
            .as_ref()
            .and_then(|f| f[3].parse().ok())
            .unwrap_or(uid),
    };
    Ok((uid, gid, None))
}

fn lookup_group(g: &str) -> Result<u32, Error> {
    if let Ok(n) = g.parse::<u32>() {
        return Ok(n);
    }
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    group
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 3 && f[0] == g)
        .and_then(|f| f[2].parse().ok())
        .ok_or_else(|| {
            Error::Setup(format!(
                "group '{g}' not found in the container's /etc/group"
            ))
        })
}

fn lookup_groups(list: &str) -> Result<Vec<u32>, Error> {
    list.split(',')
        .filter(|g| !g.is_empty())
        .map(lookup_group)
        .collect()
}
