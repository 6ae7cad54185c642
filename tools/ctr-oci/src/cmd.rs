//! The commands. Each one loads the container's state folder, checks its status as runc
//! does (the same messages, exit 1), and composes nsenter-rs and cgset.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cli::{Cli, Command as Cmd, CreateOpts, Format, LogFormat};
use crate::error::Error;
use crate::spec::{self, Hook, Hooks};
use crate::state::{self, Saved, Status};

struct Log {
    file: Option<PathBuf>,
    json: bool,
    debug: bool,
}

static LOG: OnceLock<Log> = OnceLock::new();

/// One line to --log (and, with --debug and no --log, to stderr).
fn log(level: &str, msg: &str) {
    let Some(l) = LOG.get() else { return };
    if level == "debug" && !l.debug {
        return;
    }
    let now = humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string();
    match &l.file {
        Some(f) => {
            let line = if l.json {
                serde_json::json!({"level": level, "msg": msg, "time": now}).to_string()
            } else {
                format!(
                    "time=\"{now}\" level={level} msg=\"{}\"",
                    msg.replace('"', "\\\"")
                )
            };
            if let Ok(mut h) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(f)
            {
                let _ = writeln!(h, "{line}");
            }
        }
        None if level != "error" => eprintln!("ctr-oci: {level}: {msg}"),
        None => {}
    }
}

fn warn(msg: &str) {
    eprintln!("ctr-oci: warning: {msg}");
    log("warning", msg);
}

pub fn dispatch(cli: Cli) -> Result<i32, Error> {
    let _ = LOG.set(Log {
        file: cli.log.clone(),
        json: cli.log_format == LogFormat::Json,
        debug: cli.debug,
    });
    let r = run(cli);
    if let Err(e) = &r {
        log("error", &common::run::error_line(e));
    }
    r
}

fn run(cli: Cli) -> Result<i32, Error> {
    if cli.systemd_cgroup && !Path::new("/run/systemd/system").exists() {
        return Err(Error::Unsupported(
            "--systemd-cgroup: systemd does not run on this machine (leave it out: cgroupfs paths are used)".into(),
        ));
    }
    let root = cli.root.clone();
    match cli.cmd {
        Cmd::Create(o) => create(&root, &o).map(|_| 0),
        Cmd::Start { id } => start(&root, &id).map(|_| 0),
        Cmd::Run {
            opts, detach, keep, ..
        } => run_container(&root, &opts, detach, keep),
        Cmd::State { id } => {
            let s = state::load(&root, &id)?;
            print_json(&state::state_json(&root, &s))
        }
        Cmd::Kill { all, id, signal } => kill(&root, &id, &signal, all).map(|_| 0),
        Cmd::Delete { force, id } => delete(&root, &id, force).map(|_| 0),
        Cmd::Exec {
            process,
            tty,
            console_socket,
            detach,
            pid_file,
            env,
            cwd,
            user,
            additional_gids,
            cap,
            preserve_fds,
            id,
            args,
            ..
        } => exec(
            &root,
            &id,
            ExecOpts {
                process,
                tty,
                console_socket,
                detach,
                pid_file,
                env,
                cwd,
                user,
                additional_gids,
                cap,
                preserve_fds,
                args,
            },
        ),
        Cmd::Ps {
            format,
            id,
            ps_args,
        } => ps(&root, &id, format, &ps_args).map(|_| 0),
        Cmd::List { format, quiet } => list(&root, format, quiet).map(|_| 0),
        Cmd::Pause { id } => pause(&root, &id, true).map(|_| 0),
        Cmd::Resume { id } => pause(&root, &id, false).map(|_| 0),
        Cmd::Update {
            resources,
            memory,
            memory_swap,
            cpu_quota,
            cpu_period,
            cpu_shares,
            cpuset_cpus,
            cpuset_mems,
            pids_limit,
            id,
        } => {
            let s = state::load(&root, &id)?;
            let mut a = Vec::new();
            let mut warnings = Vec::new();
            if let Some(f) = resources {
                let text = if f == Path::new("-") {
                    let mut t = Vec::new();
                    std::io::stdin()
                        .read_to_end(&mut t)
                        .map_err(|e| Error::Read(f.clone(), e))?;
                    t
                } else {
                    std::fs::read(&f).map_err(|e| Error::Read(f.clone(), e))?
                };
                let v: Value = serde_json::from_slice(&text).map_err(|e| Error::Json(f, e))?;
                a = spec::cgset_args(&v, &mut warnings);
            }
            let flags = [
                memory.map(|m| format!("--memory={m}")),
                memory_swap.map(|m| format!("--memory-swap={m}")),
                cpu_period.map(|p| format!("--cpu-period={p}us")),
                cpu_quota
                    .filter(|q| *q > 0)
                    .map(|q| format!("--cpus={}", q as f64 / cpu_period.unwrap_or(100_000) as f64)),
                cpu_shares.map(|s| format!("--cpu-shares={s}")),
                cpuset_cpus.map(|s| format!("--cpuset-cpus={s}")),
                cpuset_mems.map(|s| format!("--cpuset-mems={s}")),
                pids_limit.map(|p| {
                    if p > 0 {
                        format!("--pids={p}")
                    } else {
                        "--pids=max".into()
                    }
                }),
            ];
            a.extend(flags.into_iter().flatten());
            for w in &warnings {
                warn(w);
            }
            if !a.is_empty() {
                let mut full = vec!["set".to_string()];
                full.extend(a);
                full.push(s.cgroup.clone());
                cgset(&full)?;
            }
            Ok(0)
        }
        Cmd::Events {
            stats,
            interval,
            id,
        } => loop {
            let s = state::load(&root, &id)?;
            if state::status(&root, &s) == Status::Stopped {
                return Err(Error::NotRunning(id));
            }
            let ev = stats_event(&s)?;
            println!("{ev}");
            if stats {
                return Ok(0);
            }
            std::thread::sleep(*interval);
        },
        Cmd::Features => print_json(&features()),
        Cmd::Spec { bundle, .. } => {
            let p = bundle.join("config.json");
            if p.exists() {
                return Err(Error::Usage(format!(
                    "File {} exists. Remove it first",
                    p.display()
                )));
            }
            let doc = default_spec();
            let text = serde_json::to_string_pretty(&doc).map_err(|e| Error::Json(p.clone(), e))?;
            std::fs::write(&p, text + "\n").map_err(|e| Error::Write(p, e))?;
            Ok(0)
        }
    }
}

fn print_json(v: &Value) -> Result<i32, Error> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v).map_err(|e| Error::Output(e.into()))?;
    writeln!(out).map_err(Error::Output)?;
    Ok(0)
}

/// A sibling tool (installed beside us, or the build folder), else from PATH.
fn tool(name: &str) -> PathBuf {
    if let Ok(me) = std::env::current_exe() {
        if let Some(d) = me.parent() {
            let p = d.join(name);
            if p.exists() {
                return p;
            }
        }
    }
    PathBuf::from(name)
}

/// Run cgset with `args`; its error line becomes ours.
fn cgset(args: &[String]) -> Result<String, Error> {
    log("debug", &format!("cgset {}", args.join(" ")));
    let out = Command::new(tool("cgset"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Spawn("cgset".into(), e))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Tool(
            msg.lines()
                .last()
                .unwrap_or("cgset failed")
                .trim()
                .to_string(),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn cgroup_exists(path: &str) -> bool {
    let base = Path::new("/sys/fs/cgroup");
    if base.join(path).join("cgroup.procs").exists() {
        return true;
    }
    std::fs::read_dir(base)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .any(|e| e.path().join(path).join("cgroup.procs").exists())
        })
        .unwrap_or(false)
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

fn owner() -> String {
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string())
}

/// What a failed create must undo.
struct Cleanup {
    dir: PathBuf,
    cgroup: Option<String>,
    pid: Option<i32>,
    armed: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.pid {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        if let Some(cg) = &self.cgroup {
            let _ = cgset(&[
                "delete".into(),
                "--kill".into(),
                "--wait=2s".into(),
                cg.clone(),
            ]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn create(root: &Path, o: &CreateOpts) -> Result<Saved, Error> {
    create_as(root, o, false).map(|(s, _)| s)
}

/// `create`, or with `tty_here` (run in the foreground with process.terminal and no console
/// socket) a container that runs at once with nsenter-rs relaying its pty to our terminal:
/// the nsenter-rs child is returned, to be waited for.
fn create_as(
    root: &Path,
    o: &CreateOpts,
    tty_here: bool,
) -> Result<(Saved, Option<std::process::Child>), Error> {
    state::check_id(&o.id)?;
    if !root.exists() {
        // a root we make is ours alone; an existing one is left as it is
        std::fs::create_dir_all(root).map_err(|e| Error::Write(root.to_path_buf(), e))?;
        let _ = std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700));
    }
    let dir = state::dir(root, &o.id);
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::Exists(o.id.clone()));
        }
        Err(e) => return Err(Error::Write(dir, e)),
    }
    let mut cleanup = Cleanup {
        dir: dir.clone(),
        cgroup: None,
        pid: None,
        armed: true,
    };
    let bundle = std::fs::canonicalize(&o.bundle).map_err(|e| Error::Read(o.bundle.clone(), e))?;
    let spec = spec::load(&bundle)?;
    let process = spec.process.clone().unwrap_or_default();
    if process.terminal && o.console_socket.is_none() && !tty_here {
        return Err(Error::Usage(
            "cannot allocate tty if ctr-oci will detach without setting console socket".into(),
        ));
    }
    if !process.terminal && o.console_socket.is_some() {
        return Err(Error::Usage(
            "cannot use console socket if ctr-oci will not detach or allocate tty".into(),
        ));
    }

    // the cgroup, with its limits
    let cg = spec::cgroup_path(&spec, &o.id);
    let owned = !cgroup_exists(&cg);
    let mut warnings = Vec::new();
    let mut cargs = vec![
        "create".to_string(),
        "--parent-ok".into(),
        "--exist-ok".into(),
    ];
    if let Some(res) = spec.linux.as_ref().and_then(|l| l.resources.as_ref()) {
        cargs.extend(spec::cgset_args(res, &mut warnings));
    }
    cargs.push(cg.clone());
    cgset(&cargs)?;
    if owned {
        cleanup.cgroup = Some(cg.clone());
    }

    let fifo = dir.join("exec.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .map_err(|e| Error::Write(fifo.clone(), std::io::Error::from_raw_os_error(e as i32)))?;
    let _ = std::fs::set_permissions(&fifo, std::fs::Permissions::from_mode(0o622));
    let built = spec::nsenter_args(&spec, &bundle, &dir, &cg)?;
    warnings.extend(built.warnings.iter().cloned());
    for w in &warnings {
        warn(w);
    }
    let pidfile = dir.join("pid");
    let mut args: Vec<OsString> = built.args;
    if tty_here {
        args.push("--tty".into());
        let _ = std::fs::remove_file(&fifo);
    } else {
        args.push("--wait-fifo".into());
        args.push(fifo.as_os_str().into());
        args.push("--detach".into());
    }
    args.push("--pidfile".into());
    args.push(pidfile.as_os_str().into());
    if o.preserve_fds > 0 {
        args.push("--preserve-fds".into());
        args.push(o.preserve_fds.to_string().into());
    }
    if let Some(s) = &o.console_socket {
        args.push("--console-socket".into());
        args.push(s.into());
    }
    args.push("--".into());
    args.extend(process.args.iter().map(OsString::from));
    log(
        "debug",
        &format!(
            "nsenter-rs {}",
            args.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        ),
    );
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(
        built.umask as libc::mode_t,
    ));
    let mut child = None;
    if tty_here {
        // nsenter-rs holds the terminal and waits; the pidfile says the program runs
        let c = Command::new(tool("nsenter-rs")).args(&args).spawn();
        nix::sys::stat::umask(old);
        let mut c = c.map_err(|e| Error::Spawn("nsenter-rs".into(), e))?;
        while !pidfile.exists() {
            if let Ok(Some(st)) = c.try_wait() {
                return Err(Error::Tool(format!(
                    "nsenter-rs could not create container {} ({st})",
                    o.id
                )));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        child = Some(c);
    } else {
        let status = Command::new(tool("nsenter-rs")).args(&args).status();
        nix::sys::stat::umask(old);
        let status = status.map_err(|e| Error::Spawn("nsenter-rs".into(), e))?;
        if !status.success() {
            return Err(Error::Tool(format!(
                "nsenter-rs could not create container {} (exit status {})",
                o.id,
                status.code().unwrap_or(-1)
            )));
        }
    }
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .ok_or_else(|| Error::Tool(format!("nsenter-rs wrote no pid to {}", pidfile.display())))?;
    cleanup.pid = Some(pid);
    let starttime = state::proc_stat(pid).map(|(_, s)| s).unwrap_or(0);
    let rootfs = spec
        .root
        .as_ref()
        .map(|r| {
            if Path::new(&r.path).is_absolute() {
                PathBuf::from(&r.path)
            } else {
                bundle.join(&r.path)
            }
        })
        .unwrap_or_default();
    let saved = Saved {
        id: o.id.clone(),
        pid,
        bundle: bundle.to_string_lossy().into_owned(),
        rootfs: rootfs.to_string_lossy().into_owned(),
        created: now_rfc3339(),
        owner: owner(),
        annotations: spec.annotations.clone(),
        starttime,
        cgroup: cg,
        hooks: spec.hooks.clone(),
        seccomp: spec
            .linux
            .as_ref()
            .and_then(|l| l.seccomp.as_ref())
            .map(|_| dir.join("seccomp.json").to_string_lossy().into_owned()),
        terminal: process.terminal,
        owned_cgroup: owned,
        env: process.env.clone(),
        cwd: process.cwd.clone(),
        uid: process.user.uid,
        gid: process.user.gid,
        additional_gids: process.user.additional_gids.clone(),
        no_process: spec.process.is_none(),
    };
    state::save(root, &saved)?;
    if let Some(adj) = process.oom_score_adj {
        let p = format!("/proc/{pid}/oom_score_adj");
        let cur = std::fs::read_to_string(&p).unwrap_or_default();
        if cur.trim() != adj.to_string() {
            if let Err(e) = std::fs::write(&p, adj.to_string()) {
                return Err(Error::Write(PathBuf::from(p), e));
            }
        }
    }
    let hooks = spec.hooks.clone().unwrap_or_default();
    let st = state::state_json(root, &saved);
    run_hooks("createRuntime", &hooks.create_runtime, &st)?;
    run_hooks("createContainer", &hooks.create_container, &st)?;
    if let Some(f) = &o.pid_file {
        common::state::atomic_write(f, pid.to_string().as_bytes())
            .map_err(|e| Error::Write(f.clone(), e))?;
    }
    cleanup.armed = false;
    log("debug", &format!("created {} (pid {pid})", o.id));
    Ok((saved, child))
}

/// poststart and poststop hooks: a failure is a warning, and the rest still run (the spec).
fn run_hooks_warn(kind: &str, hooks: &[Hook], st: &Value) {
    for h in hooks {
        if let Err(e) = run_hooks(kind, std::slice::from_ref(h), st) {
            warn(&common::run::error_line(&e));
        }
    }
}

/// Run hooks of one kind with the state on stdin; the first failure is the error.
fn run_hooks(kind: &str, hooks: &[Hook], st: &Value) -> Result<(), Error> {
    for h in hooks {
        log("debug", &format!("{kind} hook {}", h.path));
        let mut c = Command::new(&h.path);
        if let Some((first, rest)) = h.args.split_first() {
            c.arg0(first).args(rest);
        }
        c.env_clear();
        for e in &h.env {
            if let Some((k, v)) = e.split_once('=') {
                c.env(k, v);
            }
        }
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| Error::Hook(format!("{kind} {}: cannot run it: {e}", h.path)))?;
        if let Some(mut i) = child.stdin.take() {
            let _ = i.write_all(st.to_string().as_bytes());
        }
        let deadline = h
            .timeout
            .filter(|t| *t > 0)
            .map(|t| Instant::now() + Duration::from_secs(t));
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) => {}
                Err(e) => return Err(Error::Hook(format!("{kind} {}: {e}", h.path))),
            }
            if deadline.is_some_and(|d| Instant::now() > d) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Hook(format!(
                    "{kind} {}: timed out after {} s",
                    h.path,
                    h.timeout.unwrap_or(0)
                )));
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        if !status.success() {
            return Err(Error::Hook(format!("{kind} {} failed ({status})", h.path)));
        }
    }
    Ok(())
}

fn start(root: &Path, id: &str) -> Result<Saved, Error> {
    let s = state::load(root, id)?;
    match state::status(root, &s) {
        Status::Created => {}
        Status::Stopped => {
            return Err(Error::Usage(
                "cannot start a container that has stopped".into(),
            ));
        }
        _ => {
            return Err(Error::Usage(
                "cannot start an already running container".into(),
            ));
        }
    }
    if s.no_process {
        // "start MUST generate an error if process was not set": the waiting process ends
        // (the container is stopped, delete removes it)
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(s.pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while state::alive(&s) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = std::fs::remove_file(state::dir(root, id).join("exec.fifo"));
        return Err(Error::Config(format!(
            "container {id} has no process (config.json without process): nothing to start"
        )));
    }
    let hooks = s.hooks.clone().unwrap_or_default();
    // prestart (deprecated in the spec) at start, before the program: when the validation
    // suite and runc's users expect it
    // a failed hook: the container is stopped and deleted (lifecycle step 9), then the error
    let fail_start = |e: Error| {
        let _ = delete(root, id, true);
        e
    };
    run_hooks("prestart", &hooks.prestart, &state::state_json(root, &s)).map_err(fail_start)?;
    start_container_hooks(&s, &hooks).map_err(fail_start)?;
    let fifo = state::dir(root, id).join("exec.fifo");
    let exe = |pid: i32| std::fs::read_link(format!("/proc/{pid}/exe")).ok();
    let waiting_exe = exe(s.pid);
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&fifo)
        .map_err(|e| Error::Read(fifo.clone(), e))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 1];
    loop {
        match (&f).read(&mut buf) {
            Ok(1) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(Error::Read(fifo, e)),
        }
        if !state::alive(&s) || Instant::now() > deadline {
            let _ = std::fs::remove_file(&fifo);
            return Err(Error::Tool(format!(
                "container {id}'s process ended before it could start"
            )));
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let _ = std::fs::remove_file(&fifo);
    // when it started (kill waits a little for a signal handler shortly after)
    let _ = std::fs::write(state::dir(root, id).join("started"), "");
    // the program runs once the process has exec'd: poststart hooks come after that
    let deadline = Instant::now() + Duration::from_secs(2);
    while waiting_exe.is_some() && exe(s.pid) == waiting_exe && state::alive(&s) {
        if Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    // ... and until it first waits (or ends): its start-up done (a shell's traps set, its
    // first output written) before start returns and the poststart hooks run; 100 ms at most
    // for a program that never blocks
    let deadline = Instant::now() + Duration::from_millis(100);
    while state::proc_stat(s.pid).is_some_and(|(st, _)| st == 'R') && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(100));
    }
    log("debug", &format!("started {id}"));
    // the program has started (even if it ended already): the state poststart hooks read
    let mut st = state::state_json(root, &s);
    st["status"] = "running".into();
    st["pid"] = s.pid.into();
    run_hooks_warn("poststart", &hooks.poststart, &st);
    Ok(s)
}

/// startContainer hooks run in the container's namespaces (and root), before its program.
fn start_container_hooks(s: &Saved, hooks: &Hooks) -> Result<(), Error> {
    if hooks.start_container.is_empty() {
        return Ok(());
    }
    let wrapped: Vec<Hook> = hooks
        .start_container
        .iter()
        .map(|h| {
            let mut args = vec![
                "nsenter-rs".to_string(),
                "-t".into(),
                s.pid.to_string(),
                "-a".into(),
                "-r".into(),
                "--".into(),
                h.path.clone(),
            ];
            args.extend(h.args.iter().skip(1).cloned());
            Hook {
                path: tool("nsenter-rs").to_string_lossy().into_owned(),
                args,
                env: h.env.clone(),
                timeout: h.timeout,
            }
        })
        .collect();
    let st = serde_json::json!({
        "ociVersion": "1.1.0", "id": s.id, "pid": s.pid, "status": "created",
        "bundle": s.bundle, "annotations": s.annotations,
    });
    run_hooks("startContainer", &wrapped, &st)
}

fn run_container(root: &Path, o: &CreateOpts, detach: bool, keep: bool) -> Result<i32, Error> {
    let bundle = std::fs::canonicalize(&o.bundle).map_err(|e| Error::Read(o.bundle.clone(), e))?;
    let terminal = spec::load(&bundle)?.process.is_some_and(|p| p.terminal);
    if !detach && terminal && o.console_socket.is_none() {
        // runc run in a terminal: nsenter-rs relays the container's pty to ours
        let (s, child) = create_as(root, o, true)?;
        let st = state::state_json(root, &s);
        let hooks = s.hooks.clone().unwrap_or_default();
        run_hooks_warn("poststart", &hooks.poststart, &st);
        let code = match child.map(|mut c| c.wait()) {
            Some(Ok(st)) => st.code().unwrap_or(255),
            _ => 255,
        };
        if !keep {
            delete(root, &o.id, true)?;
        }
        return Ok(code);
    }
    if !detach {
        // the container becomes our child once nsenter-rs has returned: we can wait for it
        let _ = nix::sys::prctl::set_child_subreaper(true);
    }
    create(root, o)?;
    let s = match start(root, &o.id) {
        Ok(s) => s,
        Err(e) => {
            let _ = delete(root, &o.id, true);
            return Err(e);
        }
    };
    if detach {
        return Ok(0);
    }
    let pid = nix::unistd::Pid::from_raw(s.pid);
    let code = loop {
        match nix::sys::wait::waitpid(pid, None) {
            Ok(st) => break common::exit::from_wait_status(st),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break 255,
        }
    };
    if !keep {
        delete(root, &o.id, true)?;
    }
    Ok(code)
}

fn parse_signal(s: &str) -> Result<nix::sys::signal::Signal, Error> {
    use std::str::FromStr;
    if let Ok(n) = s.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n)
            .map_err(|_| Error::Usage(format!("unknown signal \"{s}\"")));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    nix::sys::signal::Signal::from_str(&name)
        .map_err(|_| Error::Usage(format!("unknown signal \"{s}\"")))
}

fn kill(root: &Path, id: &str, sig: &str, all: bool) -> Result<(), Error> {
    let s = state::load(root, id)?;
    let signal = parse_signal(sig)?;
    let st = state::status(root, &s);
    if st == Status::Stopped && !all {
        return Err(Error::NotRunning(id.to_string()));
    }
    if all {
        // (with SIGKILL cgset waits for the cgroup to empty)
        cgset(&[
            "kill".into(),
            format!("--signal={}", signal as i32),
            s.cgroup.clone(),
        ])?;
    } else {
        if st == Status::Running {
            wait_for_handler(root, &s, signal);
        }
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(s.pid), signal)
            .map_err(|e| Error::Signal(s.pid, e))?;
    }
    if st == Status::Paused && signal == nix::sys::signal::Signal::SIGKILL {
        // a frozen process dies once thawed
        let _ = cgset(&["thaw".into(), s.cgroup.clone()]);
        let _ = std::fs::remove_file(state::dir(root, id).join("paused"));
    }
    Ok(())
}

/// The init of a pid namespace gets only the signals it has a handler for (the kernel drops
/// the rest, SIGKILL and SIGSTOP aside). A signal sent right after `start` can come before
/// the program has installed its handler (a shell's `trap`) and would be lost: within 2 s
/// of the start, wait (up to then) for the handler while the signal's action is the
/// default one. Anything else is signalled at once.
fn wait_for_handler(root: &Path, s: &Saved, signal: nix::sys::signal::Signal) {
    use nix::sys::signal::Signal;
    if matches!(signal, Signal::SIGKILL | Signal::SIGSTOP) {
        return;
    }
    let Some(started) = std::fs::metadata(state::dir(root, &s.id).join("started"))
        .and_then(|m| m.modified())
        .ok()
    else {
        return;
    };
    let until = started + Duration::from_secs(2);
    let bit = 1u64 << (signal as i32 - 1);
    let dropped = || {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{}/status", s.pid)) else {
            return false;
        };
        let field = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_string())
        };
        let mask = |k: &str| {
            field(k)
                .and_then(|v| u64::from_str_radix(&v, 16).ok())
                .unwrap_or(0)
        };
        let ns_init = field("NSpid:").is_some_and(|v| v.split_whitespace().last() == Some("1"));
        ns_init && (mask("SigCgt:") | mask("SigIgn:")) & bit == 0
    };
    while dropped() && std::time::SystemTime::now() < until && state::alive(s) {
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn delete(root: &Path, id: &str, force: bool) -> Result<(), Error> {
    let s = match state::load(root, id) {
        Ok(s) => s,
        Err(Error::NoContainer(_)) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    let st = state::status(root, &s);
    match st {
        // (runc deletes a created one without --force; the spec says a container that is
        // not stopped is an error)
        Status::Created | Status::Running | Status::Paused if !force => {
            return Err(Error::WrongStatus {
                what: "delete",
                id: id.to_string(),
                status: st.as_str(),
            });
        }
        Status::Stopped => {}
        _ => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(s.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            if st == Status::Paused {
                let _ = cgset(&["thaw".into(), s.cgroup.clone()]);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while state::alive(&s) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
    if s.owned_cgroup {
        if let Err(e) = cgset(&[
            "delete".into(),
            "--kill".into(),
            "--wait=5s".into(),
            s.cgroup.clone(),
        ]) {
            warn(&format!(
                "cannot remove cgroup {}: {}",
                s.cgroup,
                common::run::error_line(&e)
            ));
        }
    }
    let hooks = s.hooks.clone().unwrap_or_default();
    let mut stj = state::state_json(root, &s);
    stj["status"] = "stopped".into();
    let dir = state::dir(root, id);
    std::fs::remove_dir_all(&dir).map_err(|e| Error::Write(dir, e))?;
    run_hooks_warn("poststop", &hooks.poststop, &stj);
    log("debug", &format!("deleted {id}"));
    Ok(())
}

struct ExecOpts {
    process: Option<PathBuf>,
    tty: bool,
    console_socket: Option<PathBuf>,
    detach: bool,
    pid_file: Option<PathBuf>,
    env: Vec<String>,
    cwd: Option<String>,
    user: Option<String>,
    additional_gids: Vec<u32>,
    cap: Vec<String>,
    preserve_fds: u32,
    args: Vec<String>,
}

fn exec(root: &Path, id: &str, o: ExecOpts) -> Result<i32, Error> {
    let s = state::load(root, id)?;
    match state::status(root, &s) {
        Status::Stopped => {
            return Err(Error::Usage("cannot exec in a stopped container".into()));
        }
        Status::Paused => {
            return Err(Error::Usage("cannot exec in a paused container".into()));
        }
        _ => {}
    }
    // (--process: its capabilities exactly, when it has them)
    let mut caps: Option<[u64; 5]> = None;
    let (args, mut env, cwd, uid, gid, mut groups, tty) = match &o.process {
        Some(f) => {
            let text = std::fs::read(f).map_err(|e| Error::Read(f.clone(), e))?;
            let p: spec::Process =
                serde_json::from_slice(&text).map_err(|e| Error::Json(f.clone(), e))?;
            if let Some(c) = &p.capabilities {
                caps = Some(spec::cap_masks(c)?);
            }
            (
                p.args,
                p.env,
                p.cwd,
                p.user.uid,
                p.user.gid,
                p.user.additional_gids,
                p.terminal || o.tty,
            )
        }
        None => (
            o.args.clone(),
            s.env.clone(),
            s.cwd.clone(),
            s.uid,
            s.gid,
            s.additional_gids.clone(),
            o.tty,
        ),
    };
    if !o.additional_gids.is_empty() {
        groups = o.additional_gids.clone();
    }
    // --cap: added to the bounding, effective and permitted sets (runc's meaning) of the
    // process's own (the container's, read from its process, without an inheritable set)
    if !o.cap.is_empty() {
        let mut m = match caps {
            Some(m) => m,
            None => process_caps(s.pid)?,
        };
        for c in &o.cap {
            let bit = 1u64
                << spec::cap_bit(c)
                    .map_err(|_| Error::Usage(format!("exec --cap: unknown capability '{c}'")))?;
            m[0] |= bit;
            m[1] |= bit;
            m[3] |= bit;
        }
        caps = Some(m);
    }
    if args.is_empty() {
        return Err(Error::Usage(
            "exec needs a command (or --process FILE)".into(),
        ));
    }
    env.extend(o.env.iter().cloned());
    let (uid, gid) = match &o.user {
        Some(u) => {
            let (a, b) = u.split_once(':').unwrap_or((u, ""));
            let uid = a
                .parse()
                .map_err(|_| Error::Usage(format!("invalid user '{u}': use UID[:GID]")))?;
            let gid = if b.is_empty() {
                gid
            } else {
                b.parse()
                    .map_err(|_| Error::Usage(format!("invalid user '{u}': use UID[:GID]")))?
            };
            (uid, gid)
        }
        None => (uid, gid),
    };
    let cwd = o.cwd.clone().unwrap_or(cwd);
    if tty && o.detach && o.console_socket.is_none() {
        return Err(Error::Usage(
            "cannot allocate tty if ctr-oci will detach without setting console socket".into(),
        ));
    }
    let mut a: Vec<OsString> = vec![
        "-t".into(),
        s.pid.to_string().into(),
        "-a".into(),
        "-r".into(),
        "-c".into(),
        "--caps".into(),
        "target".into(),
        "-S".into(),
        uid.to_string().into(),
        "-G".into(),
        gid.to_string().into(),
    ];
    if let Some(m) = &caps {
        a.push("--cap-sets".into());
        a.push(spec::cap_sets_arg(m).into());
    }
    if !groups.is_empty() {
        let g: Vec<String> = groups.iter().map(u32::to_string).collect();
        a.push("--groups".into());
        a.push(g.join(",").into());
    }
    if !cwd.is_empty() {
        a.push("-W".into());
        a.push(cwd.into());
    }
    if let Some(f) = &s.seccomp {
        a.push("--seccomp".into());
        a.push(f.into());
    }
    for e in &env {
        a.push(format!("--env={e}").into());
    }
    match (&o.console_socket, tty) {
        (Some(sock), _) => {
            a.push("--console-socket".into());
            a.push(sock.into());
        }
        (None, true) => a.push("--tty".into()),
        (None, false) => {}
    }
    if o.detach {
        a.push("--detach".into());
    }
    if let Some(p) = &o.pid_file {
        a.push("--pidfile".into());
        a.push(p.into());
    }
    if o.preserve_fds > 0 {
        a.push("--preserve-fds".into());
        a.push(o.preserve_fds.to_string().into());
    }
    a.push("--".into());
    a.extend(args.iter().map(OsString::from));
    log(
        "debug",
        &format!(
            "nsenter-rs {}",
            a.iter()
                .map(|x| x.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        ),
    );
    let status = Command::new(tool("nsenter-rs"))
        .args(&a)
        .env_clear()
        .status()
        .map_err(|e| Error::Spawn("nsenter-rs".into(), e))?;
    match status.code() {
        Some(c) => Ok(c),
        None => Ok(255),
    }
}

/// A process's bounding, effective, (no) inheritable, permitted and ambient sets.
fn process_caps(pid: i32) -> Result<[u64; 5], Error> {
    let p = PathBuf::from(format!("/proc/{pid}/status"));
    let text = std::fs::read_to_string(&p).map_err(|e| Error::Read(p.clone(), e))?;
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(0)
    };
    Ok([
        get("CapBnd:"),
        get("CapEff:"),
        0,
        get("CapPrm:"),
        get("CapAmb:"),
    ])
}

fn pids(s: &Saved) -> Result<Vec<i32>, Error> {
    let out = cgset(&["pids".into(), s.cgroup.clone()])?;
    Ok(out.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

fn ps(root: &Path, id: &str, format: Format, ps_args: &[String]) -> Result<(), Error> {
    let s = state::load(root, id)?;
    if state::status(root, &s) == Status::Stopped {
        return Err(Error::NotRunning(id.to_string()));
    }
    let list = pids(&s)?;
    if format == Format::Json {
        print_json(&serde_json::json!(list))?;
        return Ok(());
    }
    let args: Vec<String> = if ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        ps_args.to_vec()
    };
    let out = Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| Error::Spawn("ps".into(), e))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .unwrap_or(1);
    println!("{header}");
    for l in lines {
        if l.split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok())
            .is_some_and(|p| list.contains(&p))
        {
            println!("{l}");
        }
    }
    Ok(())
}

fn list(root: &Path, format: Format, quiet: bool) -> Result<(), Error> {
    let all: Vec<Saved> = state::ids(root)
        .iter()
        .filter_map(|id| state::load(root, id).ok())
        .collect();
    if quiet {
        for s in &all {
            println!("{}", s.id);
        }
        return Ok(());
    }
    if format == Format::Json {
        let v: Vec<Value> = all.iter().map(|s| state::state_json(root, s)).collect();
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(&mut out, &v).map_err(|e| Error::Output(e.into()))?;
        writeln!(out).map_err(Error::Output)?;
        return Ok(());
    }
    let rows: Vec<[String; 6]> = all
        .iter()
        .map(|s| {
            let st = state::status(root, s);
            let pid = if st == Status::Stopped { 0 } else { s.pid };
            [
                s.id.clone(),
                pid.to_string(),
                st.as_str().to_string(),
                s.bundle.clone(),
                s.created.clone(),
                s.owner.clone(),
            ]
        })
        .collect();
    let head = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
    let mut w = [0usize; 6];
    for r in std::iter::once(&head).chain(rows.iter()) {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    for r in std::iter::once(&head).chain(rows.iter()) {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = w[i]))
            .collect();
        println!("{}", line.join("   ").trim_end());
    }
    Ok(())
}

fn pause(root: &Path, id: &str, freeze: bool) -> Result<(), Error> {
    let s = state::load(root, id)?;
    let st = state::status(root, &s);
    let flag = state::dir(root, id).join("paused");
    if freeze {
        if st != Status::Running {
            return Err(Error::NotRunning(id.to_string()));
        }
        cgset(&["freeze".into(), s.cgroup.clone()])?;
        std::fs::write(&flag, "").map_err(|e| Error::Write(flag, e))?;
    } else {
        if st != Status::Paused {
            return Err(Error::Usage(format!("container {id} is not paused")));
        }
        cgset(&["thaw".into(), s.cgroup.clone()])?;
        let _ = std::fs::remove_file(flag);
    }
    Ok(())
}

/// runc's `events --stats` object from cgset's usage.
fn stats_event(s: &Saved) -> Result<Value, Error> {
    let out = cgset(&["get".into(), "--json".into(), s.cgroup.clone()])?;
    let g: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
    let n = |k: &str| g.get(k).and_then(Value::as_u64);
    Ok(serde_json::json!({
        "type": "stats",
        "id": s.id,
        "data": {
            "cpu": {"usage": {
                "total": n("cpu_usage_usec").map(|u| u * 1000),
                "user": n("cpu_user_usec").map(|u| u * 1000),
                "kernel": n("cpu_system_usec").map(|u| u * 1000),
            }},
            "memory": {"usage": {
                "usage": n("memory_current_bytes"),
                "limit": n("memory_max_bytes"),
                "max": n("memory_peak_bytes"),
            }},
            "pids": {"current": n("pids_current"), "limit": n("pids_max")},
        }
    }))
}

fn features() -> Value {
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.1.0",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": [
            "async", "atime", "bind", "dev", "diratime", "dirsync", "exec", "mand", "noatime",
            "nodev", "nodiratime", "noexec", "nomand", "norelatime", "nostrictatime", "nosuid",
            "private", "rbind", "relatime", "remount", "ro", "rprivate", "rshared", "rslave",
            "runbindable", "rw", "shared", "slave", "strictatime", "suid", "sync", "unbindable"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": caps_names(),
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
            "seccomp": {"enabled": true, "actions": [
                "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"]},
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
        },
        "annotations": {"org.opencontainers.runtime-spec.features": "ctr-oci (ctrkit)"}
    })
}

fn caps_names() -> Vec<String> {
    spec::CAPS.iter().map(|c| format!("CAP_{c}")).collect()
}

/// `spec`: runc's default config (a shell on a terminal in rootfs/).
fn default_spec() -> Value {
    let caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    serde_json::json!({
        "ociVersion": "1.1.0",
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "ambient": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "ctr-oci",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}
