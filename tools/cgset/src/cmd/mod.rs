//! One module per subcommand; `dispatch` maps the command line to them.

mod attach;
mod create;
mod exec;
mod freeze;
mod get;
mod info;
mod kill;
mod ls;
mod pids;
mod watch;

use crate::cg::Cg;
use crate::cli::{Cli, Command, Limits};
use crate::error::{Error, Result};

pub fn dispatch(cli: Cli) -> Result<i32> {
    common::run::set_debug(cli.verbose || common::run::debug_enabled());
    let cg = || Cg::open(&cli.cgroup_root);
    match cli.command {
        None => {
            // libcgroup's form: cgset -r memory.max=256M PATH...
            if cli.raw.is_empty() || cli.paths.is_empty() {
                return Err(Error::Usage(
                    "a subcommand is required, or libcgroup's form 'cgset -r CONTROLLER.KEY=VALUE PATH' (see 'cgset --help')"
                        .into(),
                ));
            }
            let cg = cg()?;
            let limits = Limits {
                raw: cli.raw,
                ..Limits::default()
            };
            for p in &cli.paths {
                create::set(&cg, p, &limits, false)?;
            }
            Ok(0)
        }
        Some(Command::Create(a)) => create::create(&cg()?, a).map(|_| 0),
        Some(Command::Set(a)) => {
            if a.limits.is_empty() {
                return Err(Error::Usage(
                    "set needs at least one limit (--memory, --cpus, --pids, -r ...)".into(),
                ));
            }
            create::set(&cg()?, &a.path, &a.limits, a.leaf).map(|_| 0)
        }
        Some(Command::Exec(a)) => exec::run(&cli.cgroup_root, a),
        Some(Command::Attach(a)) => attach::run(&cg()?, a).map(|_| 0),
        Some(Command::Pids(a)) => pids::run(&cg()?, a).map(|_| 0),
        Some(Command::Get(a)) => get::run(&cg()?, a).map(|_| 0),
        Some(Command::Watch(a)) => watch::run(&cg()?, a).map(|_| 0),
        Some(Command::Ls(a)) => ls::run(&cg()?, a).map(|_| 0),
        Some(Command::Freeze(a)) => freeze::run(&cg()?, a, true).map(|_| 0),
        Some(Command::Thaw(a)) => freeze::run(&cg()?, a, false).map(|_| 0),
        Some(Command::Kill(a)) => kill::run(&cg()?, a).map(|_| 0),
        Some(Command::Delete(a)) => cg()?
            .delete(&a.path, a.kill, a.wait, a.missing_ok)
            .map(|_| 0),
        Some(Command::Info(a)) => info::run(&cg()?, a).map(|_| 0),
    }
}
