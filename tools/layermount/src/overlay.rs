//! Mounting a layer stack: overlayfs through the new mount API (one `lowerdir+` per layer,
//! so the option-page limit does not cap the number of layers), with a legacy mount(2)
//! fallback using the store's short layer links; and the vfs driver's bind mount.

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::sys;

pub struct OverlaySpec<'a> {
    /// lower layers, top first
    pub lowers: &'a [PathBuf],
    /// short links for the same layers, relative to `store_root` (legacy fallback)
    pub short_lowers: &'a [String],
    pub store_root: &'a Path,
    pub upper: &'a Path,
    pub work: &'a Path,
    pub readonly: bool,
    /// overlayfs 'volatile': no syncs of the upper filesystem (the layer is thrown away after)
    pub volatile: bool,
}

pub fn mount_overlay(spec: &OverlaySpec, target: &Path) -> Result<(), Error> {
    if std::env::var_os("CTRKIT_OVERLAY_LEGACY").is_some_and(|v| v == "1") {
        return mount_legacy(spec, target);
    }
    match mount_new_api(spec, target) {
        Ok(()) => Ok(()),
        Err((e, msg))
            if matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EINVAL))
                && msg.is_none() =>
        {
            common::debug!("new mount API unavailable ({e}); falling back to mount(2)");
            mount_legacy(spec, target)
        }
        Err((e, msg)) => Err(Error::Mount {
            what: "overlay".into(),
            target: target.display().to_string(),
            hint: msg.map(|m| format!(" (kernel: {m})")).unwrap_or_default(),
            source: e,
        }),
    }
}

type MountErr = (io::Error, Option<String>);

fn mount_new_api(spec: &OverlaySpec, target: &Path) -> Result<(), MountErr> {
    let ctx = sys::FsContext::open("overlay").map_err(|e| (e, None))?;
    let fail = |e: io::Error| {
        let m = ctx.last_message();
        (e, m)
    };
    ctx.set_string("source", b"layermount").map_err(fail)?;
    for (i, l) in spec.lowers.iter().enumerate() {
        if let Err(e) = ctx.set_string("lowerdir+", l.as_os_str().as_bytes()) {
            // an old kernel without lowerdir+: let the caller fall back
            if i == 0 && e.raw_os_error() == Some(libc::EINVAL) {
                let _ = ctx.last_message();
                return Err((e, None));
            }
            return Err(fail(e));
        }
    }
    ctx.set_string("upperdir", spec.upper.as_os_str().as_bytes())
        .map_err(fail)?;
    ctx.set_string("workdir", spec.work.as_os_str().as_bytes())
        .map_err(fail)?;
    // renamed directories are copied up whole, so a commit sees plain files, not redirects
    ctx.set_string("redirect_dir", b"off").map_err(fail)?;
    ctx.set_string("index", b"off").map_err(fail)?;
    // volatile came with Linux 5.10; without it the layer is simply synced as usual
    if spec.volatile && ctx.set_flag("volatile").is_err() {
        let m = ctx.last_message();
        common::debug!("overlay volatile not supported ({m:?}); mounting without it");
    }
    ctx.create_and_attach(target, spec.readonly).map_err(fail)
}

fn mount_legacy(spec: &OverlaySpec, target: &Path) -> Result<(), Error> {
    let mut opts = b"lowerdir=".to_vec();
    opts.extend_from_slice(spec.short_lowers.join(":").as_bytes());
    opts.extend_from_slice(b",upperdir=");
    opts.extend_from_slice(spec.upper.as_os_str().as_bytes());
    opts.extend_from_slice(b",workdir=");
    opts.extend_from_slice(spec.work.as_os_str().as_bytes());
    opts.extend_from_slice(b",redirect_dir=off,index=off");
    if spec.volatile {
        opts.extend_from_slice(b",volatile");
    }
    let merr = |e: io::Error, hint: &str| Error::Mount {
        what: "overlay".into(),
        target: target.display().to_string(),
        hint: hint.to_string(),
        source: e,
    };
    if opts.len() >= 4096 {
        return Err(merr(
            io::Error::from_raw_os_error(libc::E2BIG),
            " (too many layers for mount(2) options)",
        ));
    }
    // the short links are relative to the store root: mount from there
    let cwd = std::env::current_dir().ok();
    std::env::set_current_dir(spec.store_root)
        .map_err(|e| Error::io("enter", spec.store_root, e))?;
    let abs_target = if target.is_absolute() {
        target.to_path_buf()
    } else {
        cwd.clone().unwrap_or_default().join(target)
    };
    let mut r = sys::mount(b"layermount", &abs_target, "overlay", spec.readonly, &opts);
    if spec.volatile
        && r.as_ref()
            .is_err_and(|e| e.raw_os_error() == Some(libc::EINVAL))
    {
        // a kernel before 5.10 has no volatile: mount without it
        opts.truncate(opts.len() - b",volatile".len());
        r = sys::mount(b"layermount", &abs_target, "overlay", spec.readonly, &opts);
    }
    if let Some(c) = cwd {
        let _ = std::env::set_current_dir(c);
    }
    r.map_err(|e| merr(e, ""))
}

/// The vfs driver: bind-mount the container's private copy.
pub fn mount_bind(src: &Path, target: &Path, readonly: bool) -> Result<(), Error> {
    let merr = |e| Error::Mount {
        what: src.display().to_string(),
        target: target.display().to_string(),
        hint: String::new(),
        source: e,
    };
    sys::bind(src, target).map_err(merr)?;
    if readonly {
        if let Err(e) = sys::remount_bind_readonly(target) {
            let _ = sys::umount(target);
            return Err(merr(e));
        }
    }
    Ok(())
}
