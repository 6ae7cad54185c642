//! One module per subcommand.

mod commit;
mod containers;
mod cp;
mod df;
mod diff;
mod export;
mod images;
mod import;
mod inspect;
mod layers;
mod login;
mod mount;
mod pull;
mod push;
mod rm;
mod save;
mod umount;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::cgroup::{Frozen, Hierarchy};

use crate::cli::{Cli, Command};
use crate::error::{Error, IoContext};
use crate::store::{ContainerRecord, ImageRecord, Store};

pub fn dispatch(cli: Cli) -> Result<(), Error> {
    if cli.verbose {
        common::run::set_debug(true);
    }
    // login and logout need no store
    let cli = match cli.command {
        Command::Login(a) => return login::login(a),
        Command::Logout(a) => return login::logout(a),
        Command::Cp(a) => return cp::run(&a),
        _ => cli,
    };
    if let Some(r) = in_user_namespace(&cli) {
        return r;
    }
    let store = Store::open(&cli.dirs)?;
    match cli.command {
        // (handled above, before the store is opened)
        Command::Login(_) | Command::Logout(_) | Command::Cp(_) => Ok(()),
        Command::Pull(a) => pull::run(&store, a),
        Command::Push(a) => push::run(&store, a),
        Command::Tag(a) => push::tag(&store, a),
        Command::Import(a) => import::run(&store, a),
        Command::Images(a) => images::run(&store, a),
        Command::Layers(a) => layers::run(&store, a),
        Command::Df(a) => df::run(&store, a),
        Command::Inspect(a) => inspect::run(&store, a),
        Command::Mount(a) => mount::run(&store, a),
        Command::Umount(a) => umount::run(&store, a),
        Command::RmContainer(a) => umount::rm_container(&store, &a.id),
        Command::Containers(a) => containers::run(&store, a),
        Command::Diff(a) => diff::run(&store, a),
        Command::Commit(a) => commit::run(&store, a),
        Command::Export(a) => export::run(&store, a),
        Command::Save(a) => save::run(&store, a),
        Command::Rm(a) => rm::run(&store, a),
        Command::Gc => rm::gc(&store),
    }
}

/// The environment variable that marks the run inside the user namespace (no second one).
const USERNS_MARK: &str = "CTRKIT_LAYERMOUNT_USERNS";

/// Rootless (issue 21): the commands that write or remove the store's layers (pull, import,
/// commit, rm, gc) run again inside a new user namespace with the user's subordinate ranges
/// (`nsenter-rs --new=user --userns=auto`), where root is the user: an image's owners map
/// (uid 1000 inside is the user's range's uid 1000 outside), and what extraction made with
/// those owners can be removed again. None: run here (root, already inside, or no
/// nsenter-rs to be found: then every file is the user's own). Exits with the inner status.
fn in_user_namespace(cli: &Cli) -> Option<Result<(), Error>> {
    if !common::state::rootless()
        || std::env::var_os(USERNS_MARK).is_some()
        || !matches!(
            cli.command,
            Command::Pull(_)
                | Command::Import(_)
                | Command::Commit(_)
                | Command::Rm(_)
                | Command::Gc
        )
    {
        return None;
    }
    let exe = std::env::current_exe().ok();
    let nsenter = exe
        .as_deref()
        .and_then(Path::parent)
        .map(|d| d.join("nsenter-rs"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("nsenter-rs"));
    let mut cmd = std::process::Command::new(&nsenter);
    cmd.args(["--new=user", "--userns=auto", "--"])
        .arg(exe.unwrap_or_else(|| PathBuf::from("layermount")))
        .args(std::env::args_os().skip(1))
        // (inside, the euid is 0: the user's folders are named, not defaulted)
        .env("CTRKIT_ROOT", &cli.dirs.root)
        .env("CTRKIT_STATE", &cli.dirs.state_dir)
        .env(USERNS_MARK, "1");
    match cmd.status() {
        Ok(st) => {
            use std::os::unix::process::ExitStatusExt;
            let code = st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0));
            std::process::exit(code)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            common::debug!("no nsenter-rs: layers are extracted as the user (owners unmapped)");
            None
        }
        Err(e) => Some(Err(Error::io("run", &nsenter, e))),
    }
}

/// Hold container `id` still while its files are read (commit, diff, export): when ctrkit
/// runs it, `$CTRKIT_STATE/containers/ID/cgroup` names its cgroup, which is frozen until the
/// returned guard is dropped (on every path out, errors included). A container with no
/// recorded cgroup (stopped, or not started by ctrkit) has nothing to freeze.
pub fn freeze_container(store: &Store, id: &str) -> Result<Option<Frozen>, Error> {
    let f = store.state_dir.join("containers").join(id).join("cgroup");
    let path = match common::state::read_trimmed(&f) {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            common::debug!("container {id}: no {}: not frozen", f.display());
            return Ok(None);
        }
        Err(e) => return Err(Error::io("read", &f, e)),
    };
    if path.is_empty() {
        // a rootless container without limits has no cgroup (issue 21)
        common::debug!("container {id}: no cgroup recorded: not frozen");
        return Ok(None);
    }
    let path = common::cgroup::clean_path(&path)
        .map_err(|e| Error::msg(format!("{}: {e}", f.display())))?;
    let h = Hierarchy::detect().ctx("read the cgroup hierarchies in", "/sys/fs/cgroup")?;
    let what = format!("cgroup {path} of container {id}");
    let frozen = common::cgroup::freeze(&h, &path, Duration::from_secs(5))
        .map_err(|e| Error::msg(format!("cannot freeze {what}: {e}")))?;
    match &frozen {
        Some(_) => common::debug!("froze {what}"),
        None => common::debug!("{what} does not exist: not frozen"),
    }
    Ok(frozen)
}

/// The extracted directories of an image's layers, top first; every one must exist.
pub fn lower_dirs(store: &Store, layers: &[String], image: &str) -> Result<Vec<PathBuf>, Error> {
    let mut v = Vec::new();
    for d in layers.iter().rev() {
        let p = store.layer_diff(d);
        if !p.is_dir() {
            return Err(Error::msg(format!(
                "layer {d} of image {image} is missing from the store"
            )));
        }
        v.push(p);
    }
    Ok(v)
}

/// The layer stack a container sees, top first: its writable layer, then the image's.
pub fn container_stack(store: &Store, c: &ContainerRecord) -> Result<Vec<PathBuf>, Error> {
    let dir = store.container_dir(&c.id);
    Ok(match c.driver {
        crate::cli::Driver::Vfs => vec![dir.join("rootfs")],
        crate::cli::Driver::Overlay => {
            let mut v = vec![dir.join("upper")];
            v.extend(lower_dirs(store, &c.layers, &c.image)?);
            v
        }
    })
}

pub fn image_size(store: &Store, img: &ImageRecord) -> u64 {
    img.layers
        .iter()
        .filter_map(|d| store.read_layer(d).ok())
        .map(|l| l.size)
        .sum()
}

/// Write to `-o FILE` atomically (temp file + rename) or to stdout (refused on a terminal).
pub fn with_output<T>(
    output: Option<&Path>,
    f: impl FnOnce(&mut dyn Write) -> Result<T, Error>,
) -> Result<T, Error> {
    match output {
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let name = path
                .file_name()
                .ok_or_else(|| Error::Usage(format!("{} is not a file name", path.display())))?;
            let tmp = dir.join(format!(
                ".{}.tmp.{}",
                name.to_string_lossy(),
                std::process::id()
            ));
            let res = (|| {
                let file = std::fs::File::create(&tmp).ctx("create", &tmp)?;
                let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
                let v = f(&mut w)?;
                let file = w
                    .into_inner()
                    .map_err(|e| Error::io("write", &tmp, e.into_error()))?;
                file.sync_all().ctx("write", &tmp)?;
                std::fs::rename(&tmp, path).ctx("write", path)?;
                Ok(v)
            })();
            if res.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            res
        }
        None => {
            if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                return Err(Error::Usage(
                    "refusing to write an archive to a terminal: use -o FILE or a pipe".into(),
                ));
            }
            let out = std::io::stdout();
            let mut w = std::io::BufWriter::with_capacity(1 << 20, out.lock());
            let v = f(&mut w)?;
            w.flush().ctx("write", "stdout")?;
            Ok(v)
        }
    }
}

pub fn human(b: u64) -> String {
    common::parse::human_bytes(b)
}
