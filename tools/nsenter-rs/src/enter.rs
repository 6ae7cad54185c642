//! Enter mode: util-linux nsenter's behaviour, plus `--container`, `--caps=target`,
//! `--debug` and `--dry-run --json`.
//!
//! Every namespace file (and the root and working directory) is opened before the first
//! `setns`, because joining a mnt namespace changes what paths mean. Namespaces are joined
//! user first (it may grant the rights to join the rest), mnt last. Entering a pid
//! namespace forks, so the command really is inside it.

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use common::ns::NsKind;
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::unistd::{ForkResult, Gid, Uid};

use crate::capset::{self, Sets};
use crate::cli::{CapsFrom, Cli};
use crate::error::{Error, IoContext, SysContext};
use crate::process::{self, Env};
use crate::{cgroup, container, debug, pty, seccomp};

struct Joining {
    kind: NsKind,
    path: PathBuf,
    file: File,
    inode: u64,
    /// Already our namespace: nothing to do (`-a` skips these, as nsenter does).
    same: bool,
}

pub fn run(cli: Cli) -> Result<i32, Error> {
    if let Some(d) = &cli.target_dir {
        debug::check_target_dir(d)?;
    }
    if cli.tty && cli.no_fork {
        return Err(Error::Usage(
            "--tty needs a fork (the parent relays the terminal), not -F/--no-fork".into(),
        ));
    }
    let target = match (&cli.target, &cli.container) {
        (Some(t), _) => Some(*t),
        (None, Some(q)) => Some(container::resolve(q, &cli.state_dir)?),
        (None, None) => None,
    };
    let mut wanted = cli.enter_namespaces();
    // --container NAME alone is docker exec's meaning: every namespace of the container
    let all = cli.all || (cli.container.is_some() && wanted.is_empty());
    if all || cli.debug {
        for k in NsKind::ALL {
            if !wanted.iter().any(|(w, _)| *w == k) {
                wanted.push((k, None));
            }
        }
    }
    if cli.debug {
        wanted.retain(|(k, _)| *k != NsKind::Mnt);
    }
    wanted.sort_by_key(|(k, _)| NsKind::ALL.iter().position(|a| a == k));

    let needs_target = wanted.iter().any(|(_, f)| f.is_none())
        || matches!(cli.root, Some(None))
        || matches!(cli.wd, Some(None))
        || cli.join_cgroup
        || cli.caps.is_some()
        || cli.debug
        || cli.env.iter().any(|e| e.is_empty());
    let pid = match target {
        Some(p) => {
            if !Path::new(&format!("/proc/{p}")).exists() {
                return Err(Error::NoProcess { pid: p });
            }
            p
        }
        None if needs_target => {
            return Err(Error::Usage(
                "no target process: give -t PID or --container NAME (or a namespace file, e.g. --net=FILE)".into(),
            ));
        }
        None => 0,
    };

    // open everything first
    let mut joins = Vec::new();
    for (kind, file) in &wanted {
        let implicit = file.is_none();
        let path = file.clone().unwrap_or_else(|| kind.proc_path(pid));
        let f = match File::open(&path) {
            Ok(f) => f,
            // -a: a namespace type the kernel lacks is skipped
            Err(e)
                if implicit
                    && all
                    && e.kind() == std::io::ErrorKind::NotFound
                    && Path::new(&format!("/proc/{pid}")).exists() =>
            {
                continue;
            }
            Err(e) if implicit && e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NoProcess { pid });
            }
            Err(source) => {
                return Err(Error::OpenNs {
                    kind: *kind,
                    path,
                    source,
                });
            }
        };
        let md = f
            .metadata()
            .io(|| format!("cannot stat {}", path.display()))?;
        let ours = std::fs::metadata(kind.proc_path(std::process::id() as i32)).ok();
        let same = ours.is_some_and(|o| o.ino() == md.ino() && o.dev() == md.dev());
        joins.push(Joining {
            kind: *kind,
            path,
            file: f,
            inode: md.ino(),
            same,
        });
    }
    let root_dir = cli.root.as_ref().map(|d| {
        d.clone()
            .unwrap_or_else(|| PathBuf::from(format!("/proc/{pid}/root")))
    });
    let wd_dir = cli.wd.as_ref().map(|d| {
        d.clone()
            .unwrap_or_else(|| PathBuf::from(format!("/proc/{pid}/cwd")))
    });

    if cli.dry_run {
        return dry_run(
            pid,
            &joins,
            root_dir.as_deref(),
            wd_dir.as_deref(),
            cli.json,
        );
    }

    let root_fd = match &root_dir {
        Some(d) => {
            Some(File::open(d).io(|| format!("cannot open root directory {}", d.display()))?)
        }
        None => None,
    };
    let wd_fd = match &wd_dir {
        Some(d) => {
            Some(File::open(d).io(|| format!("cannot open working directory {}", d.display()))?)
        }
        None => match &root_fd {
            // keep our working directory across the chroot, as nsenter does
            Some(_) => File::open(".").ok(),
            None => None,
        },
    };
    let mut env = if cli.env.iter().any(|e| e.is_empty()) {
        let data = std::fs::read(format!("/proc/{pid}/environ"))
            .io(|| format!("cannot read /proc/{pid}/environ"))?;
        Env::from_environ(&data)
    } else {
        Env::inherited()
    };
    if cli.debug && cli.env.iter().any(|e| e.is_empty()) {
        // --debug runs the host's tools in the host's mount namespace: the container's
        // PATH or LD_PRELOAD must not choose what they load; ours stay
        env.retain(|k| !process::is_loader_variable(k));
        for (k, v) in std::env::vars_os() {
            if process::is_loader_variable(&k) {
                env.set(k, v);
            }
        }
    }
    for e in cli.env.iter().filter(|e| !e.is_empty()) {
        env.assign(e);
    }
    let target_caps = match cli.caps {
        Some(CapsFrom::Target) => {
            let (mut sets, nnp) =
                Sets::of_process(pid).io(|| format!("cannot read /proc/{pid}/status"))?;
            // never an inheritable set (CVE-2022-24769), whatever the target has
            sets.inheritable.clear();
            // --cap-sets: exactly these sets (ctr-oci exec --cap, --process), the target's
            // no_new_privs
            Some((cli.cap_sets.clone().unwrap_or(sets), nnp))
        }
        None => cli.cap_sets.clone().map(|s| (s, false)),
    };
    // --groups: the command's supplementary groups (GIDs: the container's names are not
    // looked up here)
    let groups = match &cli.groups {
        None => None,
        Some(list) => Some(
            list.split(',')
                .filter(|g| !g.is_empty())
                .map(|g| {
                    g.parse::<u32>().map(Gid::from_raw).map_err(|_| {
                        Error::Usage(format!(
                            "--groups {list}: enter mode takes numeric GIDs only ('{g}')"
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    // --seccomp: compiled now (a bad profile stops us before we join anything), for the
    // capability set the command will have: the target's with --caps=target, else ours
    let filter = match &cli.seccomp {
        None => None,
        Some(choice) => {
            let bounding = match &target_caps {
                Some((sets, _)) => sets.bounding.clone(),
                None => caps::read(None, caps::CapSet::Bounding).unwrap_or_default(),
            };
            seccomp::compile(choice, &bounding)?
        }
    };
    // the filter is loaded as the last step before exec when the command has no_new_privs;
    // without it the kernel wants CAP_SYS_ADMIN: load it before capabilities are dropped
    let nnp_at_exec = target_caps.as_ref().is_some_and(|(_, nnp)| *nnp)
        || nix::sys::prctl::get_no_new_privs().unwrap_or(false);
    if cli.join_cgroup {
        let files = cgroup::target_procs_files(pid)?;
        cgroup::join(std::process::id() as i32, &files)?;
    }

    // --debug: the target's mounts, copied while we can still return to our own namespace
    let debug_tree = match cli.debug {
        true => Some(debug::clone_root(pid)?),
        false => None,
    };

    // --pidfile: opened here, while its path still means the host's (ctr-oci exec)
    let pidfile = match &cli.pidfile {
        Some(f) => Some((
            f.clone(),
            File::create(f).io(|| format!("cannot write pidfile {}", f.display()))?,
        )),
        None => None,
    };
    let console = match &cli.console_socket {
        Some(p) => Some((p.clone(), crate::oci::connect_console(p)?)),
        None => None,
    };
    // from here on we are inside the target: nothing there may open our /proc/PID/exe
    process::make_undumpable()?;
    let mut entered_user = false;
    let mut entered_pid = false;
    for j in &joins {
        if j.same {
            // joining our own user namespace is an error (EINVAL); -a skips any same one
            if j.kind == NsKind::User || all || cli.debug {
                continue;
            }
        }
        common::debug!(
            "joining {} namespace {} ({})",
            j.kind,
            j.path.display(),
            j.inode
        );
        nix::sched::setns(
            j.file.as_fd(),
            CloneFlags::from_bits_retain(j.kind.clone_flag()),
        )
        .map_err(|source| Error::Setns {
            kind: j.kind,
            path: j.path.clone(),
            source,
        })?;
        entered_user |= j.kind == NsKind::User;
        entered_pid |= j.kind == NsKind::Pid;
    }
    if let Some(r) = &root_fd {
        nix::unistd::fchdir(r.as_fd()).sys(|| "cannot enter the root directory".into())?;
        nix::unistd::chroot(".").sys(|| "cannot change the root directory".into())?;
    }
    if let Some(w) = &wd_fd {
        nix::unistd::fchdir(w.as_fd()).sys(|| "cannot enter the working directory".into())?;
    }
    if let Some(w) = &cli.wdns {
        process::check_workdir(w)?;
        nix::unistd::chdir(w)
            .sys(|| format!("cannot change to working directory {}", w.display()))?;
    }
    // ...or before a switch to another user than root, which clears the effective set (the
    // waiting parent of a forked command then has the filter too)
    let to_non_root = !cli.preserve_credentials
        && (entered_user || cli.setuid.is_some() || cli.setgid.is_some())
        && cli.setuid.unwrap_or(if entered_user {
            0
        } else {
            Uid::current().as_raw()
        }) != 0;
    if let (Some(p), false, true) = (&filter, nnp_at_exec, to_non_root) {
        seccomp::load(p)?;
    }
    if let Some((sets, _)) = &target_caps {
        // shrink the bounding set while still privileged; keep the permitted set across
        // a switch to another user
        capset::apply_bounding(sets).map_err(|e| Error::Caps(e.to_string()))?;
        nix::sys::prctl::set_keepcaps(true).sys(|| "cannot keep capabilities".into())?;
    }

    if !cli.preserve_credentials && (entered_user || cli.setuid.is_some() || cli.setgid.is_some()) {
        let gid = cli.setgid.unwrap_or(if entered_user {
            0
        } else {
            Gid::current().as_raw()
        });
        let uid = cli.setuid.unwrap_or(if entered_user {
            0
        } else {
            Uid::current().as_raw()
        });
        if let Some(g) = &groups {
            nix::unistd::setgroups(g).sys(|| "cannot set the supplementary groups".into())?;
        } else if entered_user || cli.setgid.is_some() {
            let _ = nix::unistd::setgroups(&[]);
        }
        nix::unistd::setgid(Gid::from_raw(gid)).sys(|| format!("cannot set group ID {gid}"))?;
        nix::unistd::setuid(Uid::from_raw(uid)).sys(|| format!("cannot set user ID {uid}"))?;
    }

    // --tty: a pty from the devpts the command sees (the container's, once its mnt
    // namespace is joined); we keep the master and relay it, the command gets the slave
    let mut tty = match cli.tty || cli.console_socket.is_some() {
        true => Some(pty::open_pair(pty::caller_size())?),
        false => None,
    };
    // (a new session needs a process that leads no process group: a forked one)
    let fork = (entered_pid
        || cli.debug
        || cli.new_session
        || cli.tty
        || cli.console_socket.is_some()
        || cli.pidfile.is_some()
        || cli.detach)
        && !cli.no_fork;
    if fork {
        process::block_signals()?;
        let forked = process::fork_like(0, None);
        if forked < 0 {
            return Err(nix::Error::last()).sys(|| "cannot fork".into());
        }
        let result = match forked {
            0 => ForkResult::Child,
            pid => ForkResult::Parent {
                child: nix::unistd::Pid::from_raw(pid as i32),
            },
        };
        match result {
            ForkResult::Parent { child } => {
                if cli.console_socket.is_some() || cli.detach || cli.pidfile.is_some() {
                    return detached_parent(
                        &cli,
                        child,
                        tty.take().map(|(m, _)| m),
                        pidfile,
                        console,
                    );
                }
                return Ok(match tty {
                    Some((master, slave)) => {
                        drop(slave);
                        pty::relay(master, child)
                    }
                    None => process::wait_forwarding(child, false),
                });
            }
            ForkResult::Child => {
                if !cli.detach {
                    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
                        .sys(|| "cannot set the parent-death signal".into())?;
                }
                if let Some((master, slave)) = tty.take() {
                    drop(master);
                    pty::use_slave(slave)?;
                    pty::take_controlling(true)?;
                }
            }
        }
    }
    if let Some(tree) = &debug_tree {
        debug::session_mounts(tree, cli.target_dir.as_deref())?;
    }
    if let (Some(p), false, false) = (&filter, nnp_at_exec, to_non_root) {
        seccomp::load(p)?;
    }
    if let Some((sets, nnp)) = &target_caps {
        nix::sys::prctl::set_keepcaps(false).sys(|| "cannot reset keepcaps".into())?;
        capset::apply_process_sets(sets).map_err(|e| Error::Caps(e.to_string()))?;
        if *nnp {
            nix::sys::prctl::set_no_new_privs().sys(|| "cannot set no_new_privs".into())?;
        }
    }
    if cli.new_session && !cli.tty {
        process::new_session()?;
    }
    let cmd = process::command_or_shell(&cli.cmd);
    let path_var = env
        .get("PATH")
        .map(|p| p.to_os_string())
        .unwrap_or_else(|| process::DEFAULT_PATH.into());
    let entries = env.entries();
    process::close_fds_on_exec(cli.preserve_fds)?;
    process::reset_signals();
    if let (Some(p), true) = (&filter, nnp_at_exec) {
        seccomp::load(p)?;
    }
    Err(process::exec_search(&cmd, &path_var, &entries))
}

fn dry_run(
    pid: i32,
    joins: &[Joining],
    root: Option<&Path>,
    wd: Option<&Path>,
    json: bool,
) -> Result<i32, Error> {
    if json {
        let ns: Vec<serde_json::Value> = joins
            .iter()
            .map(|j| {
                serde_json::json!({
                    "type": j.kind.proc_name(),
                    "path": j.path,
                    "inode": j.inode,
                    "id": format!("{}:[{}]", j.kind.proc_name(), j.inode),
                    "join": !j.same,
                })
            })
            .collect();
        let doc = serde_json::json!({
            "target": if pid > 0 { Some(pid) } else { None },
            "namespaces": ns,
            "root": root,
            "wd": wd,
        });
        common::output::emit_json(&doc).map_err(Error::Output)?;
    } else {
        let mut t = common::output::Table::new(["TYPE", "ID", "PATH", "ACTION"]);
        for j in joins {
            t.row([
                j.kind.proc_name().to_string(),
                format!("{}:[{}]", j.kind.proc_name(), j.inode),
                j.path.display().to_string(),
                if j.same {
                    "skip (ours)".into()
                } else {
                    "join".to_string()
                },
            ]);
        }
        t.print(true).map_err(Error::Output)?;
    }
    Ok(common::exit::OK)
}

/// The parent of a forked command with `--console-socket`, `--detach` or `--pidfile` (ctr-oci
/// exec): the pty master goes to the console socket, the command's PID to the pidfile; with
/// `--detach` we return at once (the command is left to our parent or the subreaper), else
/// we wait for it.
fn detached_parent(
    cli: &Cli,
    child: nix::unistd::Pid,
    master: Option<std::os::fd::OwnedFd>,
    pidfile: Option<(PathBuf, File)>,
    console: Option<(PathBuf, std::os::fd::OwnedFd)>,
) -> Result<i32, Error> {
    let kill = || {
        let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
        if !cli.detach {
            let _ = nix::sys::wait::waitpid(child, None);
        }
    };
    if let (Some((path, sock)), Some(m)) = (&console, &master) {
        if let Err(e) = crate::oci::send_console(sock, path, m) {
            kill();
            return Err(e);
        }
    }
    drop(master);
    if let Some((f, mut file)) = pidfile {
        use std::io::Write;
        // (no newline: runc writes none, and containerd's shim parses the file as is)
        if let Err(source) = file.write_all(child.to_string().as_bytes()) {
            kill();
            return Err(Error::Io {
                what: format!("cannot write pidfile {}", f.display()),
                source,
            });
        }
    }
    if cli.detach {
        return Ok(common::exit::OK);
    }
    Ok(process::wait_forwarding(child, false))
}
