//! Mode dispatch: `--unpin`, create mode (`--new`), or enter mode.

use std::ffi::{OsStr, OsString};

use clap::FromArgMatches;

use crate::cli::Cli;
use crate::error::Error;
use crate::{create, enter, pin};

pub fn run(cli: Cli) -> Result<i32, Error> {
    let cli = match rewrite_create_args(std::env::args_os().collect()) {
        Some(args) => reparse(args)?,
        None => cli,
    };
    if cli.verbose {
        common::run::set_debug(true);
    }
    if let Some(dir) = &cli.unpin {
        if cli.is_create() || cli.target.is_some() || !cli.cmd.is_empty() {
            return Err(Error::Usage(
                "--unpin DIR takes no other options or command".into(),
            ));
        }
        pin::unpin(dir)?;
        return Ok(common::exit::OK);
    }
    if let Some(path) = &cli.attach {
        if cli.is_create() || cli.target.is_some() || cli.container.is_some() || !cli.cmd.is_empty()
        {
            return Err(Error::Usage(
                "--attach PATH takes no other options or command".into(),
            ));
        }
        return crate::pty::attach(path);
    }
    if cli.is_create() {
        create::run(cli)
    } else {
        check_no_create_options(&cli)?;
        enter::run(cli)
    }
}

/// Options (taking a separate value) that appear before the command.
const VALUE_OPTS: &[&str] = &[
    "-t",
    "--target",
    "-S",
    "--setuid",
    "-G",
    "--setgid",
    "--container",
    "--caps",
    "--state-dir",
    "--target-dir",
    "--new",
    "--join",
    "--pin",
    "--unpin",
    "--rootfs",
    "--mnt-template",
    "--bind",
    "--tmpfs",
    "--shm-size",
    "--oom-score-adj",
    "--hostname",
    "--domainname",
    "--uid-map",
    "--gid-map",
    "--groups",
    "--workdir",
    "--env-file",
    "--sysctl",
    "--rlimit",
    "--cap-add",
    "--cap-drop",
    "--pidfile",
    "--preserve-fds",
    "--device",
    "-W",
    "--wdns",
    "--seccomp",
    "--tty-socket",
    "--attach",
    "--wait-fifo",
    "--console-socket",
    "--cap-sets",
    "--console-size",
    "--mask",
    "--readonly-path",
    "--userns",
    "--prestart",
    "--rootfs-overlay",
    "--prestart-pidfile",
    "--oci-fs",
];

/// In create mode `--user X`, `--env X` and `--cgroup X` take their value after a space;
/// turn them into `--user=X` (the form clap accepts for nsenter's optional values).
/// Returns `None` when nothing needs rewriting.
fn rewrite_create_args(args: Vec<OsString>) -> Option<Vec<OsString>> {
    // find where the options end, taking the dual options as value-taking (they are, in
    // create mode, and nothing is rewritten otherwise)
    let mut create = false;
    let mut end = args.len();
    let mut i = 1;
    while i < args.len() {
        let a = args[i].to_string_lossy();
        if a == "--" {
            end = i;
            break;
        }
        if a == "--new" || a.starts_with("--new=") {
            create = true;
        }
        if VALUE_OPTS.contains(&a.as_ref()) || is_dual(&args[i]) {
            i += 2;
            continue;
        }
        if !a.starts_with('-') || a == "-" {
            end = i;
            break;
        }
        i += 1;
    }
    if !create {
        return None;
    }
    let mut out = Vec::with_capacity(args.len());
    let mut changed = false;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if i > 0 && i < end && is_dual(a) && i + 1 < args.len().min(end + 1) && args[i + 1] != "--"
        {
            let mut joined = a.clone();
            joined.push("=");
            joined.push(&args[i + 1]);
            out.push(joined);
            changed = true;
            i += 2;
            continue;
        }
        out.push(a.clone());
        i += 1;
    }
    changed.then_some(out)
}

fn is_dual(a: &OsStr) -> bool {
    a == "--user" || a == "--env" || a == "--cgroup"
}

fn reparse(args: Vec<OsString>) -> Result<Cli, Error> {
    let usage = |e: clap::Error| {
        let text = e.render().to_string();
        let first = text.lines().next().unwrap_or("invalid usage").to_string();
        Error::Usage(first.strip_prefix("error: ").unwrap_or(&first).to_string())
    };
    let m = common::run::command::<Cli>("nsenter-rs")
        .try_get_matches_from(args)
        .map_err(usage)?;
    Cli::from_arg_matches(&m).map_err(usage)
}

/// Create-mode options without `--new` are a usage error, not silently ignored.
fn check_no_create_options(cli: &Cli) -> Result<(), Error> {
    let used = [
        ("--join", !cli.join.is_empty()),
        ("--pin", cli.pin.is_some()),
        ("--rootfs", cli.rootfs.is_some()),
        ("--mount-proc", cli.mount_proc),
        ("--loopback", cli.loopback),
        ("--bind", !cli.bind.is_empty()),
        ("--tmpfs", !cli.tmpfs.is_empty()),
        ("--read-only", cli.read_only),
        ("--shm-size", cli.shm_size.is_some()),
        ("--cgroup-mount", cli.cgroup_mount),
        ("--mkdir-workdir", cli.mkdir_workdir),
        ("--oom-score-adj", cli.oom_score_adj.is_some()),
        ("--hostname", cli.hostname.is_some()),
        ("--domainname", cli.domainname.is_some()),
        ("--uid-map", !cli.uid_map.is_empty()),
        ("--gid-map", !cli.gid_map.is_empty()),
        ("--map-root-user", cli.map_root_user),
        ("--userns", cli.userns.is_some()),
        ("--prestart", cli.prestart.is_some()),
        ("--rootfs-overlay", cli.rootfs_overlay.is_some()),
        ("--mnt-template", cli.mnt_template.is_some()),
        ("--workdir", cli.workdir.is_some()),
        ("--env-file", !cli.env_file.is_empty()),
        ("--clear-env", cli.clear_env),
        ("--sysctl", !cli.sysctl.is_empty()),
        ("--rlimit", !cli.rlimit.is_empty()),
        ("--cap-add", !cli.cap_add.is_empty()),
        ("--cap-drop", !cli.cap_drop.is_empty()),
        ("--privileged", cli.privileged),
        ("--allow-new-privs", cli.allow_new_privs),
        ("--init", cli.init),
        ("--wait-fifo", cli.wait_fifo.is_some()),
        ("--console-size", cli.console_size.is_some()),
        ("--mask", !cli.mask.is_empty()),
        ("--readonly-path", !cli.readonly_path.is_empty()),
        ("--oci-fs", cli.oci_fs.is_some()),
        ("--chroot", cli.chroot),
        ("--tty-socket", cli.tty_socket.is_some()),
    ];
    if let Some((name, _)) = used.iter().find(|(_, on)| *on) {
        return Err(Error::Usage(format!(
            "{name} is a create-mode option: add --new=TYPES"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn create_mode_dual_options_get_their_value() {
        let got = rewrite_create_args(os(&[
            "nsenter-rs",
            "--new=pid",
            "--user",
            "1000:1000",
            "--env",
            "A=1",
            "--cgroup",
            "x/y",
            "--",
            "id",
        ]))
        .unwrap();
        assert_eq!(
            got,
            os(&[
                "nsenter-rs",
                "--new=pid",
                "--user=1000:1000",
                "--env=A=1",
                "--cgroup=x/y",
                "--",
                "id"
            ])
        );
    }

    #[test]
    fn enter_mode_is_left_alone() {
        assert!(rewrite_create_args(os(&["nsenter-rs", "-t", "1", "--user", "sh"])).is_none());
        assert!(
            rewrite_create_args(os(&["nsenter-rs", "--new=pid", "--", "x", "--user", "y"]))
                .is_none()
        );
    }

    /// Every option that takes its value after a space is in VALUE_OPTS (or is one of the
    /// dual options), so the scan for the end of the options never mistakes a value for the
    /// command.
    #[test]
    fn value_opts_are_complete() {
        for arg in crate::cli::Cli::command().get_arguments() {
            if !arg.get_action().takes_values() || arg.is_require_equals_set() {
                continue;
            }
            let names = arg
                .get_long()
                .map(|l| format!("--{l}"))
                .into_iter()
                .chain(arg.get_short().map(|c| format!("-{c}")));
            for name in names {
                assert!(
                    VALUE_OPTS.contains(&name.as_str()) || is_dual(name.as_ref()),
                    "{name} takes a value but is not in VALUE_OPTS"
                );
            }
        }
    }
}
