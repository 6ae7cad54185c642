//! `layermount umount TARGET|ID` and `layermount rm-container ID`

use std::fs;
use std::path::Path;

use crate::error::{Error, IoContext};
use crate::store::Store;
use crate::sys;

pub fn run(store: &Store, a: crate::cli::UmountArgs) -> Result<(), Error> {
    let _records = store.lock_records()?;
    let by_id = common::parse::parse_container_name(&a.target)
        .ok()
        .and_then(|id| store.read_container(&id).ok());
    let (rec, target) = match by_id {
        Some(rec) => {
            let t = rec
                .target
                .clone()
                .ok_or_else(|| Error::msg(format!("container {} is not mounted", rec.id)))?;
            (Some(rec), t.into())
        }
        None => {
            let t = fs::canonicalize(&a.target).ctx("find", &a.target)?;
            let ts = t.display().to_string();
            let rec = store
                .containers()?
                .into_iter()
                .find(|c| c.target.as_deref() == Some(ts.as_str()));
            (rec, t)
        }
    };
    let res = sys::umount(&target);
    if let Some(mut rec) = rec {
        // not mounted here any more (e.g. its mount namespace is gone): forget the record too
        if res.is_ok()
            || matches!(
                res.as_ref().err().and_then(|e| e.raw_os_error()),
                Some(libc::EINVAL) | Some(libc::ENOENT)
            )
        {
            rec.target = None;
            store.write_container(&rec)?;
        }
    }
    res.map_err(|e| match e.raw_os_error() {
        Some(libc::EINVAL) => Error::msg(format!(
            "cannot unmount {}: not a mount point",
            target.display()
        )),
        _ => Error::io("unmount", &target, e),
    })
}

pub fn rm_container(store: &Store, id: &str) -> Result<(), Error> {
    let _lock = store.lock_shared()?;
    let _records = store.lock_records()?;
    let rec = store.read_container(id)?;
    if let Some(t) = &rec.target {
        match sys::umount(Path::new(t)) {
            Ok(()) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOENT)) => {}
            Err(e) => return Err(Error::io("unmount", t, e)),
        }
    }
    let dir = store.container_dir(id);
    if common::state::rootless() {
        // overlayfs made the folders of its work folder mode 0 inside a user namespace:
        // open them to their owner (us) so that they can be removed
        open_dirs(&dir.join("work"));
    }
    store.discard(&dir, &format!("rmc-{id}"))
}

/// Give every folder under `dir` (not following symlinks) mode 0700.
fn open_dirs(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            open_dirs(&e.path());
        }
    }
}
