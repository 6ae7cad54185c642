//! The container's filesystem, built inside its new mount namespace: private propagation,
//! the rootfs bound onto itself, /proc, read-only /sys, a tmpfs /dev with the usual devices,
//! pts, shm and mqueue, volumes and tmpfs mounts, then `pivot_root` and the old root
//! detached; finally the paths runc masks or makes read-only. Everything here lives in the
//! new mount namespace, so a failure leaves nothing mounted on the host.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::stat::{Mode, SFlag, makedev, mknod};

use crate::error::{Error, IoContext, SysContext};
use crate::settings::{BindSpec, TmpfsSpec};

/// runc's (and Docker's) masked paths.
pub const MASKED: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// runc's (and Docker's) read-only paths.
pub const READ_ONLY: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// What to build.
#[derive(Debug, Clone)]
pub struct Plan {
    pub rootfs: Option<PathBuf>,
    pub mount_proc: bool,
    pub binds: Vec<BindSpec>,
    pub tmpfs: Vec<TmpfsSpec>,
    pub read_only: bool,
    pub mask: bool,
    /// In a new user namespace: device nodes are bound from the host, not made.
    pub in_userns: bool,
    /// A new net namespace exists (sysfs can be mounted fresh).
    pub new_net: bool,
}

fn mnt(
    src: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), Error> {
    mount(src, target, fstype, flags, data).sys(|| {
        format!(
            "cannot mount {} on {}",
            fstype
                .map(str::to_string)
                .or_else(|| src.map(|s| s.display().to_string()))
                .unwrap_or_default(),
            target.display()
        )
    })
}

/// Join an absolute in-container path onto `root`.
fn inside(root: &Path, p: &Path) -> PathBuf {
    root.join(p.strip_prefix("/").unwrap_or(p))
}

/// Remount the bind mount at `target` read-only, keeping its other (possibly locked) flags.
fn remount_ro(target: &Path) -> Result<(), Error> {
    let vfs = nix::sys::statvfs::statvfs(target)
        .sys(|| format!("cannot read the mount flags of {}", target.display()))?;
    use nix::sys::statvfs::FsFlags as F;
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    let f = vfs.flags();
    for (ff, mf) in [
        (F::ST_NOSUID, MsFlags::MS_NOSUID),
        (F::ST_NODEV, MsFlags::MS_NODEV),
        (F::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (F::ST_NOATIME, MsFlags::MS_NOATIME),
        (F::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        // ST_RELATIME (0x1000, the kernel's value); nix names it only for glibc
        (F::from_bits_retain(0x1000), MsFlags::MS_RELATIME),
    ] {
        if f.contains(ff) {
            flags |= mf;
        }
    }
    mount(None::<&str>, target, None::<&str>, flags, None::<&str>)
        .sys(|| format!("cannot make {} read-only", target.display()))
}

/// Build the filesystem. Runs in the container's setup process, in its new mount namespace.
pub fn setup(plan: &Plan) -> Result<(), Error> {
    // nothing we mount may propagate back to the host
    mnt(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
    )?;
    let Some(rootfs) = &plan.rootfs else {
        if plan.mount_proc {
            mnt(
                Some(Path::new("proc")),
                Path::new("/proc"),
                Some("proc"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                None,
            )?;
        }
        for b in &plan.binds {
            bind(b, Path::new("/"))?;
        }
        for t in &plan.tmpfs {
            tmpfs(t, Path::new("/"))?;
        }
        return Ok(());
    };
    let root = rootfs.as_path();
    mnt(
        Some(root),
        root,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;

    // /proc
    let proc_dir = inside(root, Path::new("/proc"));
    mkdir(&proc_dir)?;
    mnt(
        Some(Path::new("proc")),
        &proc_dir,
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
    )?;

    // /sys, read-only
    let sys_dir = inside(root, Path::new("/sys"));
    mkdir(&sys_dir)?;
    let ro_sys = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY;
    match mount(Some("sysfs"), &sys_dir, Some("sysfs"), ro_sys, None::<&str>) {
        Ok(()) => {}
        Err(Errno::EPERM) if !plan.new_net || plan.in_userns => {
            // sysfs of a net namespace we do not own: bind the host's, read-only
            mnt(
                Some(Path::new("/sys")),
                &sys_dir,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            )?;
            remount_ro(&sys_dir)?;
        }
        Err(source) => {
            return Err(Error::Sys {
                what: format!("cannot mount sysfs on {}", sys_dir.display()),
                source,
            });
        }
    }

    setup_dev(root, plan.in_userns)?;

    for b in &plan.binds {
        bind(b, root)?;
    }
    for t in &plan.tmpfs {
        tmpfs(t, root)?;
    }

    // pivot_root(".", ".") then detach the old root stacked under the new one
    nix::unistd::chdir(root).sys(|| format!("cannot enter rootfs {}", root.display()))?;
    nix::unistd::pivot_root(".", ".")
        .sys(|| format!("cannot pivot_root into {}", root.display()))?;
    umount2(".", MntFlags::MNT_DETACH).sys(|| "cannot detach the old root".to_string())?;
    nix::unistd::chdir("/").sys(|| "cannot change directory to /".to_string())?;

    if plan.mask {
        for p in MASKED {
            mask_path(Path::new(p))?;
        }
        for p in READ_ONLY {
            let p = Path::new(p);
            if p.exists() {
                mnt(Some(p), p, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
                remount_ro(p)?;
            }
        }
    }
    if plan.read_only {
        remount_ro(Path::new("/"))?;
    }
    Ok(())
}

fn mkdir(p: &Path) -> Result<(), Error> {
    fs::create_dir_all(p).io(|| format!("cannot create {}", p.display()))
}

fn mask_path(p: &Path) -> Result<(), Error> {
    let Ok(md) = fs::metadata(p) else {
        return Ok(());
    };
    if md.is_dir() {
        mnt(
            Some(Path::new("tmpfs")),
            p,
            Some("tmpfs"),
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some("size=0"),
        )
    } else {
        mnt(
            Some(Path::new("/dev/null")),
            p,
            None,
            MsFlags::MS_BIND,
            None,
        )
    }
}

fn setup_dev(root: &Path, in_userns: bool) -> Result<(), Error> {
    let dev = inside(root, Path::new("/dev"));
    mkdir(&dev)?;
    mnt(
        Some(Path::new("tmpfs")),
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    )?;
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        let node = dev.join(name);
        let made = !in_userns
            && mknod(
                &node,
                SFlag::S_IFCHR,
                Mode::from_bits_truncate(0o666),
                makedev(major, minor),
            )
            .is_ok();
        if made {
            // mknod honours the umask; devices are for everyone
            fs::set_permissions(&node, fs::Permissions::from_mode(0o666))
                .io(|| format!("cannot chmod {}", node.display()))?;
        } else {
            fs::File::create(&node).io(|| format!("cannot create {}", node.display()))?;
            mnt(
                Some(&Path::new("/dev").join(name)),
                &node,
                None,
                MsFlags::MS_BIND,
                None,
            )?;
        }
    }
    let pts = dev.join("pts");
    mkdir(&pts)?;
    let pts_opts = if in_userns {
        "newinstance,ptmxmode=0666,mode=0620"
    } else {
        "newinstance,ptmxmode=0666,mode=0620,gid=5"
    };
    mnt(
        Some(Path::new("devpts")),
        &pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some(pts_opts),
    )?;
    let shm = dev.join("shm");
    mkdir(&shm)?;
    mnt(
        Some(Path::new("shm")),
        &shm,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=1777,size=65536k"),
    )?;
    let mq = dev.join("mqueue");
    mkdir(&mq)?;
    // mqueue needs an IPC namespace we own; without one the directory stays empty
    let _ = mount(
        Some("mqueue"),
        &mq,
        Some("mqueue"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    );
    for (link, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("core", "/proc/kcore"),
    ] {
        let l = dev.join(link);
        symlink(target, &l).io(|| format!("cannot create {}", l.display()))?;
    }
    // the terminal we were started on is the container's console
    if nix::unistd::isatty(std::io::stdin()).unwrap_or(false) {
        if let Ok(tty) = fs::read_link("/proc/self/fd/0") {
            let console = dev.join("console");
            fs::File::create(&console).io(|| format!("cannot create {}", console.display()))?;
            mnt(Some(&tty), &console, None, MsFlags::MS_BIND, None)?;
        }
    }
    Ok(())
}

fn bind(b: &BindSpec, root: &Path) -> Result<(), Error> {
    let dst = inside(root, &b.dst);
    let md = fs::metadata(&b.src).io(|| format!("bind source {}", b.src.display()))?;
    if md.is_dir() {
        mkdir(&dst)?;
    } else if !dst.exists() {
        if let Some(parent) = dst.parent() {
            mkdir(parent)?;
        }
        fs::File::create(&dst).io(|| format!("cannot create {}", dst.display()))?;
    }
    mnt(
        Some(&b.src),
        &dst,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    if b.read_only {
        remount_ro(&dst)?;
    }
    Ok(())
}

fn tmpfs(t: &TmpfsSpec, root: &Path) -> Result<(), Error> {
    let dst = inside(root, &t.dst);
    mkdir(&dst)?;
    let opts = match t.size {
        Some(s) => format!("mode=1777,size={s}"),
        None => "mode=1777".to_string(),
    };
    mnt(
        Some(Path::new("tmpfs")),
        &dst,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(&opts),
    )
}
