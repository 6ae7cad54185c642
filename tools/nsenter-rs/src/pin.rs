//! Pinning namespaces: `--pin DIR` bind-mounts `/proc/PID/ns/<type>` at `DIR/<type>` so the
//! namespace outlives its processes (like `unshare --net=FILE`); `--unpin DIR` releases them.

use std::fs;
use std::path::Path;

use common::ns::NsKind;
use common::undo::Undo;
use nix::mount::{MntFlags, MsFlags, mount, umount2};

use crate::error::{Error, IoContext, SysContext};

/// Pin the namespaces `kinds` of `pid` under `dir`, pushing their undo onto `undo`.
pub fn pin(pid: i32, kinds: &[NsKind], dir: &Path, undo: &mut Undo) -> Result<(), Error> {
    if !dir.exists() {
        fs::create_dir_all(dir).io(|| format!("cannot create pin directory {}", dir.display()))?;
        let d = dir.to_path_buf();
        undo.push(format!("remove {}", d.display()), move || {
            fs::remove_dir(&d)
        });
    }
    for kind in kinds {
        let file = dir.join(kind.proc_name());
        if file.exists() {
            return Err(Error::Usage(format!(
                "{} already exists: unpin it first (nsenter-rs --unpin {})",
                file.display(),
                dir.display()
            )));
        }
        fs::File::create(&file).io(|| format!("cannot create {}", file.display()))?;
        let f = file.clone();
        undo.push(format!("remove {}", f.display()), move || {
            fs::remove_file(&f)
        });
        let src = kind.proc_path(pid);
        mount(
            Some(&src),
            &file,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .sys(|| format!("cannot pin {} namespace at {}", kind, file.display()))?;
        let f = file.clone();
        undo.push(format!("unmount {}", f.display()), move || {
            umount2(&f, MntFlags::MNT_DETACH)
        });
    }
    Ok(())
}

/// Release every namespace pinned in `dir` and remove the files and `dir` (if empty).
pub fn unpin(dir: &Path) -> Result<(), Error> {
    let mut found = Vec::new();
    for kind in NsKind::ALL {
        let file = dir.join(kind.proc_name());
        if file.exists() {
            found.push(file);
        }
    }
    if found.is_empty() {
        if !dir.is_dir() {
            return Err(Error::Io {
                what: format!("cannot unpin {}", dir.display()),
                source: std::io::Error::from_raw_os_error(libc::ENOENT),
            });
        }
        return Err(Error::Usage(format!(
            "no pinned namespaces in {}",
            dir.display()
        )));
    }
    let mut errors: Vec<String> = Vec::new();
    for file in &found {
        if let Err(e) = umount2(file, MntFlags::MNT_DETACH) {
            if e != nix::errno::Errno::EINVAL {
                errors.push(format!("cannot unmount {}: {e}", file.display()));
                continue;
            }
        }
        if let Err(e) = fs::remove_file(file) {
            errors.push(format!("cannot remove {}: {e}", file.display()));
        }
    }
    let _ = fs::remove_dir(dir);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Io {
            what: errors.join("; "),
            source: std::io::Error::other("unpin incomplete"),
        })
    }
}
