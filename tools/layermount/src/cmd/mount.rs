//! `layermount mount IMAGE TARGET --container ID`

use std::fs;

use super::lower_dirs;
use crate::cli::{Driver, MountArgs};
use crate::error::{Error, IoContext};
use crate::overlay::{self, OverlaySpec};
use crate::store::{self, ContainerRecord, Store};

pub fn run(store: &Store, a: MountArgs) -> Result<(), Error> {
    // --mkdir: a missing mount point is made, and removed again if the mount fails
    let made = a.mkdir
        && match fs::create_dir(&a.target) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(Error::io("create the mount point", &a.target, e)),
        };
    let target = a.target.clone();
    let res = mount_at(store, a);
    if res.is_err() && made {
        let _ = fs::remove_dir(&target);
    }
    res
}

fn mount_at(store: &Store, mut a: MountArgs) -> Result<(), Error> {
    // Rootless (issue 21): a user cannot mount on the host. The vfs driver's private copy is
    // not mounted: its path is printed for the caller to use as a root filesystem
    // (nsenter-rs --rootfs binds it in the container's own namespaces).
    // With the overlay driver on Linux 5.11 or later, the layer is made but not mounted:
    // the overlay options are printed ('overlay:OPTIONS') for a mount inside the container's
    // user namespace (nsenter-rs --rootfs-overlay). Else (an older kernel, or a store path
    // overlay options cannot carry) the fallback is the vfs copy.
    let rootless = common::state::rootless();
    if rootless && a.driver == Driver::Overlay && !userns_overlay_ok(&store.root) {
        common::debug!(
            "rootless: the vfs driver (a private copy): no overlay in a user namespace here"
        );
        a.driver = Driver::Vfs;
    }
    if rootless && a.driver == Driver::Vfs {
        a.volatile = false;
    }
    if a.volatile && a.driver != Driver::Overlay {
        return Err(Error::msg(
            "--volatile needs the overlay driver".to_string(),
        ));
    }
    let _lock = store.lock_shared()?;
    let img = store.resolve_image(&a.image)?;
    let target = fs::canonicalize(&a.target).ctx("use as a mount point", &a.target)?;
    if !target.is_dir() {
        return Err(Error::msg(format!(
            "cannot use {} as a mount point: not a directory",
            a.target.display()
        )));
    }
    let lowers = lower_dirs(store, &img.layers, &img.id)?;
    let _records = store.lock_records()?;
    let dir = store.container_dir(&a.container);
    let target_s = target.display().to_string();
    let (mut rec, created) = match store.read_container(&a.container) {
        Ok(rec) => {
            if rec.image != img.id {
                return Err(Error::msg(format!(
                    "container {} already exists with image {} (not {})",
                    a.container, rec.image, a.image
                )));
            }
            if rec.driver != a.driver {
                return Err(Error::msg(format!(
                    "container {} already exists with another --driver",
                    a.container
                )));
            }
            (rec, false)
        }
        Err(Error::NoContainer(_)) => {
            let tmp = store.tempdir("container")?;
            let rec = ContainerRecord {
                id: a.container.clone(),
                image: img.id.clone(),
                layers: img.layers.clone(),
                driver: a.driver,
                // written once, as it will be once mounted: if the mount fails, the new
                // layer and its record are removed together (rootless: never mounted)
                target: (!rootless).then(|| target_s.clone()),
                created: store::now_rfc3339(),
            };
            match a.driver {
                Driver::Overlay => {
                    for d in ["upper", "work"] {
                        let p = tmp.path.join(d);
                        fs::create_dir(&p).ctx("create", &p)?;
                    }
                }
                Driver::Vfs => copy_layers(&lowers, &tmp.path.join("rootfs"), &a.container)?,
            }
            let meta = tmp.path.join("container.json");
            store::write_atomic(&meta, &store::to_json(&rec)?)?;
            let src = tmp.keep();
            if let Err(e) = fs::rename(&src, &dir) {
                let _ = fs::remove_dir_all(&src);
                return Err(Error::io("create", &dir, e));
            }
            (rec, true)
        }
        Err(e) => return Err(e),
    };
    let res = match a.driver {
        _ if rootless => Ok(()),
        Driver::Overlay => {
            let shorts: Vec<String> = img
                .layers
                .iter()
                .rev()
                .map(|d| format!("l/{}", store::short(d)))
                .collect();
            overlay::mount_overlay(
                &OverlaySpec {
                    lowers: &lowers,
                    short_lowers: &shorts,
                    store_root: &store.root,
                    upper: &dir.join("upper"),
                    work: &dir.join("work"),
                    readonly: a.readonly,
                    volatile: a.volatile,
                },
                &target,
            )
        }
        Driver::Vfs => overlay::mount_bind(&dir.join("rootfs"), &target, a.readonly),
    };
    if let Err(e) = res {
        if created {
            let _ = fs::remove_dir_all(&dir);
        }
        return Err(e);
    }
    // (a new layer's record was written with its target above)
    let recorded = if created || rootless {
        Ok(())
    } else {
        rec.target = Some(target_s);
        store.write_container(&rec)
    };
    let recorded = recorded.and_then(|()| match &a.iidfile {
        Some(f) => store::write_atomic(f, format!("{}\n", img.id).as_bytes()),
        None => Ok(()),
    });
    if let Err(e) = recorded {
        let _ = crate::sys::umount(&target);
        if created {
            let _ = fs::remove_dir_all(&dir);
        }
        return Err(e);
    }
    if rootless {
        match a.driver {
            // the copy itself is the root filesystem
            Driver::Vfs => println!("{}", dir.join("rootfs").display()),
            Driver::Overlay => {
                let lowers: Vec<String> = lowers.iter().map(|l| l.display().to_string()).collect();
                println!(
                    "overlay:lowerdir={},upperdir={},workdir={},index=off{}",
                    lowers.join(":"),
                    dir.join("upper").display(),
                    dir.join("work").display(),
                    if a.volatile { ",volatile" } else { "" }
                );
            }
        }
        return Ok(());
    }
    println!("{}", target.display());
    Ok(())
}

/// The vfs driver's private copy: the merged layers streamed as a tar through a pipe into
/// the same safe extractor imports use.
fn copy_layers(
    lowers: &[std::path::PathBuf],
    dst: &std::path::Path,
    id: &str,
) -> Result<(), Error> {
    fs::create_dir(dst).ctx("create", dst)?;
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| Error::io("create a pipe for", dst, e.into()))?;
    let label = format!("container {id}");
    std::thread::scope(|s| {
        let writer =
            s.spawn(move || crate::merge::write_merged_tar(lowers, fs::File::from(w)).map(drop));
        let mut a = tar::Archive::new(fs::File::from(r));
        let res = crate::extract::Extractor::new(dst, &label)
            .and_then(|mut x| x.extract(&mut a).map(drop));
        drop(a);
        let wres = writer
            .join()
            .unwrap_or_else(|_| Err(Error::msg("copy thread failed")));
        res.and(wres)
    })
}

/// Rootless overlay: Linux 5.11 or later mounts overlayfs in a user namespace, and the
/// store's paths must fit in overlay's option string (no ',', ':' or '=').
fn userns_overlay_ok(root: &std::path::Path) -> bool {
    let release = rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned();
    let mut nums = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (nums.next().unwrap_or(0), nums.next().unwrap_or(0));
    let path_ok = !root
        .display()
        .to_string()
        .contains([',', ':', '='].as_slice());
    (major, minor) >= (5, 11) && path_ok
}
