//! `ctr-state claim DIR`: mkdir(2), which succeeds for one caller only.
//!
//! The folder is made 0700 whatever the umask: the files the launcher keeps in it (the
//! container's environment, its log, its config) are nobody else's business. Parents made
//! by `--parents` are 0700 too, and when DIR is `$CTRKIT_STATE/containers/NAME`,
//! `$CTRKIT_STATE` and its `containers` folder are tightened to 0700 if found looser.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use common::state::{DIR_MODE, Dirs, Private, private_dir};

use crate::cli::ClaimArgs;
use crate::error::Error;

pub fn run(a: &ClaimArgs) -> Result<(), Error> {
    let parent = a.dir.parent().filter(|p| !p.as_os_str().is_empty());
    if a.parents
        && let Some(parent) = parent
    {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(parent)
            .map_err(|e| Error::Create(parent.to_path_buf(), e))?;
    }
    if let Some(parent) = parent {
        tighten_state(parent)?;
    }
    fs::DirBuilder::new()
        .mode(DIR_MODE)
        .create(&a.dir)
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => Error::Exists(a.dir.clone()),
            _ => Error::Create(a.dir.clone(), e),
        })?;
    // mkdir's mode went through the umask; ours is the whole mode
    fs::set_permissions(&a.dir, fs::Permissions::from_mode(DIR_MODE))
        .map_err(|e| Error::Create(a.dir.clone(), e))
}

/// When `parent` is `$CTRKIT_STATE/containers`, close it and `$CTRKIT_STATE` to others.
fn tighten_state(parent: &Path) -> Result<(), Error> {
    let dirs = Dirs::from_env();
    let containers = dirs.containers_dir();
    let same = |a: &Path, b: &Path| match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same(parent, &containers) {
        return Ok(());
    }
    for p in [dirs.state_dir.as_path(), parent] {
        match private_dir(p).map_err(|e| Error::Create(p.to_path_buf(), e))? {
            Private::Tightened(old) => {
                common::debug!("{}: was mode {old:04o}, now 0700", p.display())
            }
            Private::Kept | Private::Created => {}
        }
    }
    Ok(())
}
