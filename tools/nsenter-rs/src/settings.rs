//! Values of create-mode options: volumes, tmpfs mounts, devices, ID maps, sysctls, rlimits.
//! Parsing happens at the command line, so a bad value is a usage error naming the flag.

use std::path::{Component, Path, PathBuf};

use common::ns::NsKind;
use nix::mount::MsFlags;

/// `--bind SRC:DST[:OPTIONS]`: OPTIONS a comma list of `ro`, `rw` and a propagation
/// (`private`, `rprivate`, `shared`, `rshared`, `slave`, `rslave`)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindSpec {
    pub src: PathBuf,
    pub dst: PathBuf,
    pub read_only: bool,
    /// The propagation the mount gets inside (the default: private, as every mount there)
    pub propagation: Option<MsFlags>,
}

/// The propagation types a bind mount may take, as Docker names them.
const PROPAGATIONS: [(&str, MsFlags); 6] = [
    ("private", MsFlags::MS_PRIVATE),
    ("rprivate", MsFlags::MS_PRIVATE.union(MsFlags::MS_REC)),
    ("shared", MsFlags::MS_SHARED),
    ("rshared", MsFlags::MS_SHARED.union(MsFlags::MS_REC)),
    ("slave", MsFlags::MS_SLAVE),
    ("rslave", MsFlags::MS_SLAVE.union(MsFlags::MS_REC)),
];

impl BindSpec {
    pub fn parse(s: &str) -> Result<BindSpec, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let (src, dst, opts) = match parts.as_slice() {
            [src, dst] => (*src, *dst, ""),
            [src, dst, opts] => (*src, *dst, *opts),
            _ => return Err(format!("'{s}' is not SRC:DST[:OPTIONS]")),
        };
        if src.is_empty() || dst.is_empty() {
            return Err(format!("'{s}' is not SRC:DST[:OPTIONS]"));
        }
        let (mut ro, mut propagation) = (false, None);
        for opt in opts.split(',').filter(|o| !o.is_empty()) {
            match opt {
                "ro" => ro = true,
                "rw" => ro = false,
                _ => match PROPAGATIONS.iter().find(|(n, _)| *n == opt) {
                    Some((_, f)) => propagation = Some(*f),
                    None => {
                        return Err(format!(
                            "unknown bind option '{opt}' in '{s}' (expected ro, rw, [r]private, [r]shared or [r]slave)"
                        ));
                    }
                },
            }
        }
        Ok(BindSpec {
            src: PathBuf::from(src),
            dst: container_path(dst)?,
            read_only: ro,
            propagation,
        })
    }
}

/// `--tmpfs DST[:OPTIONS]`: OPTIONS a size (`64m`) or a comma list of mount flags (ro, rw,
/// [no]exec, [no]suid, [no]dev, [no]atime, ...) and tmpfs options (size=, mode=, uid=, gid=,
/// nr_inodes=, ...). The default is `nosuid,nodev,mode=1777`; later flags override earlier ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TmpfsSpec {
    pub dst: PathBuf,
    pub flags: MsFlags,
    /// The data string for the kernel: `mode=1777,size=...`
    pub data: String,
}

/// Flags a tmpfs option sets (first) or clears (second).
const TMPFS_FLAGS: [(&str, MsFlags, MsFlags); 20] = {
    let e = MsFlags::empty();
    [
        ("ro", MsFlags::MS_RDONLY, e),
        ("rw", e, MsFlags::MS_RDONLY),
        ("nosuid", MsFlags::MS_NOSUID, e),
        ("suid", e, MsFlags::MS_NOSUID),
        ("nodev", MsFlags::MS_NODEV, e),
        ("dev", e, MsFlags::MS_NODEV),
        ("noexec", MsFlags::MS_NOEXEC, e),
        ("exec", e, MsFlags::MS_NOEXEC),
        ("sync", MsFlags::MS_SYNCHRONOUS, e),
        ("async", e, MsFlags::MS_SYNCHRONOUS),
        ("dirsync", MsFlags::MS_DIRSYNC, e),
        ("noatime", MsFlags::MS_NOATIME, e),
        ("atime", e, MsFlags::MS_NOATIME),
        ("nodiratime", MsFlags::MS_NODIRATIME, e),
        ("diratime", e, MsFlags::MS_NODIRATIME),
        ("relatime", MsFlags::MS_RELATIME, e),
        ("norelatime", e, MsFlags::MS_RELATIME),
        ("strictatime", MsFlags::MS_STRICTATIME, e),
        ("nostrictatime", e, MsFlags::MS_STRICTATIME),
        ("defaults", e, e),
    ]
};

/// tmpfs's own options, passed to the kernel as they are (size and mode checked first).
const TMPFS_DATA: [&str; 10] = [
    "size",
    "mode",
    "uid",
    "gid",
    "nr_inodes",
    "nr_blocks",
    "huge",
    "mpol",
    "inode32",
    "inode64",
];

impl TmpfsSpec {
    pub fn parse(s: &str) -> Result<TmpfsSpec, String> {
        let (dst, opts) = s.split_once(':').unwrap_or((s, ""));
        let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
        let mut data: Vec<(String, String)> = vec![("mode".into(), "1777".into())];
        let mut set = |k: &str, v: String| match data.iter_mut().find(|(dk, _)| dk == k) {
            Some(e) => e.1 = v,
            None => data.push((k.to_string(), v)),
        };
        // the old form: DST:SIZE
        if !opts.contains([',', '=']) && common::parse::parse_bytes(opts).is_ok() {
            set(
                "size",
                common::parse::parse_bytes(opts).unwrap_or(0).to_string(),
            );
        } else {
            for opt in opts.split(',').filter(|o| !o.is_empty()) {
                let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
                if let Some((_, on, off)) = TMPFS_FLAGS.iter().find(|(n, _, _)| *n == opt) {
                    flags = (flags | *on) & !*off;
                } else if k == "size" {
                    let v = match v.strip_suffix('%') {
                        Some(p) if p.parse::<u8>().is_ok_and(|p| p > 0 && p <= 100) => {
                            v.to_string()
                        }
                        _ => common::parse::parse_bytes(v)
                            .map_err(|_| format!("size '{v}' in '{s}' is not a size (64m, 1g)"))?
                            .to_string(),
                    };
                    set("size", v);
                } else if k == "mode" {
                    if v.is_empty() || u32::from_str_radix(v, 8).map_or(true, |m| m > 0o7777) {
                        return Err(format!("mode '{v}' in '{s}' is not an octal mode"));
                    }
                    set("mode", v.to_string());
                } else if TMPFS_DATA.contains(&k) && !v.contains(['"', '\\']) {
                    set(k, v.to_string());
                } else {
                    return Err(format!("unknown tmpfs option '{opt}' in '{s}'"));
                }
            }
        }
        let data = data
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect::<Vec<_>>()
            .join(",");
        Ok(TmpfsSpec {
            dst: container_path(dst)?,
            flags,
            data,
        })
    }
}

/// `--device HOST[:CONTAINER][:PERMS]` (Docker's syntax): a host device node made (or, in a new
/// user namespace, bound) at CONTAINER; PERMS (a subset of `rwm`) is for the device cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSpec {
    pub host: PathBuf,
    pub container: PathBuf,
    /// `r`, `w` and `m` in that order, as given (default `rwm`).
    pub perms: String,
}

impl DeviceSpec {
    pub fn parse(s: &str) -> Result<DeviceSpec, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let (host, container, perms) = match parts.as_slice() {
            [h] => (*h, *h, "rwm"),
            // HOST:PERMS when the second part is not a path (as Docker reads it)
            [h, p] if !p.starts_with('/') => (*h, *h, *p),
            [h, c] => (*h, *c, "rwm"),
            [h, c, p] => (*h, *c, *p),
            _ => return Err(format!("'{s}' is not HOST[:CONTAINER][:PERMS]")),
        };
        if host.is_empty() || container.is_empty() {
            return Err(format!("'{s}' is not HOST[:CONTAINER][:PERMS]"));
        }
        if !Path::new(host).is_absolute() {
            return Err(format!("'{host}' is not an absolute path"));
        }
        let mut seen = String::new();
        for ch in perms.chars() {
            if !"rwm".contains(ch) || seen.contains(ch) {
                return Err(format!(
                    "'{perms}' in '{s}' is not a set of device permissions (r, w, m)"
                ));
            }
            seen.push(ch);
        }
        if seen.is_empty() {
            return Err(format!("'{s}' has empty device permissions"));
        }
        let container = container_path(container)?;
        if container == Path::new("/") {
            return Err(format!("'{s}' puts the device at /"));
        }
        let perms = "rwm".chars().filter(|c| seen.contains(*c)).collect();
        Ok(DeviceSpec {
            host: PathBuf::from(host),
            container,
            perms,
        })
    }
}

/// An absolute path inside the container, without `..` (so it cannot leave the rootfs).
fn container_path(s: &str) -> Result<PathBuf, String> {
    let p = Path::new(s);
    if !p.is_absolute() {
        return Err(format!("'{s}' is not an absolute path"));
    }
    if p.components().any(|c| c == Component::ParentDir) {
        return Err(format!("'{s}' contains '..'"));
    }
    Ok(p.to_path_buf())
}

/// One line of `uid_map`/`gid_map`: `INSIDE:OUTSIDE:COUNT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

impl IdMap {
    pub fn parse(s: &str) -> Result<IdMap, String> {
        let nums: Vec<Result<u32, _>> = s.split(':').map(str::parse::<u32>).collect();
        match nums.as_slice() {
            [Ok(i), Ok(o), Ok(c)] if *c > 0 => {
                if i.checked_add(*c).is_none() || o.checked_add(*c).is_none() {
                    return Err(format!("map '{s}' overflows the ID range"));
                }
                Ok(IdMap {
                    inside: *i,
                    outside: *o,
                    count: *c,
                })
            }
            [Ok(_), Ok(_), Ok(_)] => Err(format!("map '{s}' has a zero count")),
            _ => Err(format!("'{s}' is not INSIDE:OUTSIDE:COUNT")),
        }
    }

    /// The text written to `/proc/PID/uid_map` for `maps`.
    pub fn render(maps: &[IdMap]) -> String {
        maps.iter()
            .map(|m| format!("{} {} {}\n", m.inside, m.outside, m.count))
            .collect()
    }
}

/// `--sysctl K=V`, limited to sysctls the kernel keeps per namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysctl {
    pub key: String,
    pub value: String,
    /// The namespace that makes it safe to set.
    pub ns: NsKind,
}

const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

impl Sysctl {
    pub fn parse(s: &str) -> Result<Sysctl, String> {
        let (key, value) = s
            .split_once('=')
            .ok_or_else(|| format!("'{s}' is not K=V"))?;
        let key = key.trim().replace('/', ".");
        if key.is_empty() || key.split('.').any(|p| p.is_empty() || p == "..") {
            return Err(format!("'{s}' is not a sysctl name"));
        }
        let ns = if key.starts_with("net.") {
            NsKind::Net
        } else if key.starts_with("fs.mqueue.") || IPC_SYSCTLS.contains(&key.as_str()) {
            NsKind::Ipc
        } else if key == "kernel.hostname" || key == "kernel.domainname" {
            NsKind::Uts
        } else {
            return Err(format!(
                "sysctl '{key}' is not namespaced (allowed: net.*, fs.mqueue.*, kernel.msg*, kernel.sem, kernel.shm*, kernel.hostname, kernel.domainname)"
            ));
        };
        Ok(Sysctl {
            key,
            value: value.to_string(),
            ns,
        })
    }

    /// `/proc/sys/...` for the key.
    pub fn path(&self) -> PathBuf {
        Path::new("/proc/sys").join(self.key.replace('.', "/"))
    }
}

/// `--rlimit NAME=SOFT[:HARD]`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub name: &'static str,
    pub resource: nix::sys::resource::Resource,
    pub soft: u64,
    pub hard: Option<u64>,
}

const RLIMITS: [(&str, nix::sys::resource::Resource); 16] = {
    use nix::sys::resource::Resource as R;
    [
        ("as", R::RLIMIT_AS),
        ("core", R::RLIMIT_CORE),
        ("cpu", R::RLIMIT_CPU),
        ("data", R::RLIMIT_DATA),
        ("fsize", R::RLIMIT_FSIZE),
        ("locks", R::RLIMIT_LOCKS),
        ("memlock", R::RLIMIT_MEMLOCK),
        ("msgqueue", R::RLIMIT_MSGQUEUE),
        ("nice", R::RLIMIT_NICE),
        ("nofile", R::RLIMIT_NOFILE),
        ("nproc", R::RLIMIT_NPROC),
        ("rss", R::RLIMIT_RSS),
        ("rtprio", R::RLIMIT_RTPRIO),
        ("rttime", R::RLIMIT_RTTIME),
        ("sigpending", R::RLIMIT_SIGPENDING),
        ("stack", R::RLIMIT_STACK),
    ]
};

impl Rlimit {
    pub fn parse(s: &str) -> Result<Rlimit, String> {
        let (name, vals) = s
            .split_once('=')
            .ok_or_else(|| format!("'{s}' is not NAME=SOFT[:HARD]"))?;
        let lname = name.trim().to_ascii_lowercase();
        let lname = lname.strip_prefix("rlimit_").unwrap_or(&lname);
        let (name, resource) = RLIMITS
            .iter()
            .find(|(n, _)| *n == lname)
            .copied()
            .ok_or_else(|| {
                let names: Vec<&str> = RLIMITS.iter().map(|(n, _)| *n).collect();
                format!(
                    "unknown rlimit '{name}' (expected one of {})",
                    names.join(", ")
                )
            })?;
        let num = |v: &str| -> Result<u64, String> {
            if v == "unlimited" || v == "-1" {
                Ok(libc::RLIM_INFINITY)
            } else {
                v.parse::<u64>()
                    .map_err(|_| format!("'{v}' is not a number or 'unlimited' in '{s}'"))
            }
        };
        let (soft, hard) = match vals.split_once(':') {
            Some((a, b)) => (num(a)?, Some(num(b)?)),
            None => (num(vals)?, None),
        };
        if let Some(h) = hard {
            if soft > h {
                return Err(format!("soft limit above hard limit in '{s}'"));
            }
        }
        Ok(Rlimit {
            name,
            resource,
            soft,
            hard,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds() {
        let b = BindSpec::parse("/a:/b:ro").unwrap();
        assert!(b.read_only);
        assert_eq!(b.dst, PathBuf::from("/b"));
        assert!(BindSpec::parse("/a").is_err());
        assert!(BindSpec::parse("/a:/b:xx").unwrap_err().contains("xx"));
        assert!(BindSpec::parse("/a:/../etc").is_err());
        assert!(BindSpec::parse("/a:rel").is_err());
    }

    #[test]
    fn devices() {
        let d = DeviceSpec::parse("/dev/fuse").unwrap();
        assert_eq!(
            (d.host.as_path(), d.container.as_path(), d.perms.as_str()),
            (Path::new("/dev/fuse"), Path::new("/dev/fuse"), "rwm")
        );
        let d = DeviceSpec::parse("/dev/null:/dev/mynull").unwrap();
        assert_eq!(
            (d.container.as_path(), d.perms.as_str()),
            (Path::new("/dev/mynull"), "rwm")
        );
        let d = DeviceSpec::parse("/dev/sda:/dev/xvdc:mr").unwrap();
        assert_eq!(
            (d.container.as_path(), d.perms.as_str()),
            (Path::new("/dev/xvdc"), "rm")
        );
        let d = DeviceSpec::parse("/dev/tty0:r").unwrap();
        assert_eq!(
            (d.container.as_path(), d.perms.as_str()),
            (Path::new("/dev/tty0"), "r")
        );
        for bad in [
            "",
            "dev/null",
            "/dev/null:/dev/x:rwx",
            "/dev/null:/dev/x:rr",
            "/dev/null:/dev/x:",
            "/dev/null:rel",
            "/dev/null:/dev/../etc/x",
            "/dev/null:/",
            "/a:/b:r:w",
        ] {
            assert!(DeviceSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tmpfs() {
        let t = TmpfsSpec::parse("/run:64m").unwrap();
        assert_eq!(t.data, format!("mode=1777,size={}", 64 << 20));
        assert_eq!(t.flags, MsFlags::MS_NOSUID | MsFlags::MS_NODEV);
        assert_eq!(TmpfsSpec::parse("/run").unwrap().data, "mode=1777");
        let t =
            TmpfsSpec::parse("/run:nosuid,nodev,noexec,exec,ro,size=1m,mode=700,uid=5").unwrap();
        assert_eq!(t.data, "mode=700,size=1048576,uid=5");
        assert_eq!(
            t.flags,
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_RDONLY
        );
        for bad in [
            "/run:bogus",
            "/run:mode=9",
            "/run:size=x",
            "rel:64m",
            "/run:uid=\"a",
        ] {
            assert!(TmpfsSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bind_options() {
        let b = BindSpec::parse("/a:/b:ro,rshared").unwrap();
        assert!(b.read_only);
        assert_eq!(b.propagation, Some(MsFlags::MS_SHARED | MsFlags::MS_REC));
        assert_eq!(BindSpec::parse("/a:/b:rw").unwrap().propagation, None);
        assert!(BindSpec::parse("/a:/b:ro,bogus").is_err());
    }

    #[test]
    fn maps() {
        assert_eq!(
            IdMap::parse("0:1000:1").unwrap(),
            IdMap {
                inside: 0,
                outside: 1000,
                count: 1
            }
        );
        for bad in ["0:1000", "a:b:c", "0:1000:0", "0:4294967295:2", ""] {
            assert!(IdMap::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sysctls() {
        assert_eq!(
            Sysctl::parse("net.ipv4.ip_forward=1").unwrap().ns,
            NsKind::Net
        );
        assert_eq!(Sysctl::parse("kernel.shmmax=100").unwrap().ns, NsKind::Ipc);
        assert_eq!(
            Sysctl::parse("fs.mqueue.msg_max=10").unwrap().ns,
            NsKind::Ipc
        );
        assert!(
            Sysctl::parse("kernel.pid_max=100")
                .unwrap_err()
                .contains("not namespaced")
        );
        assert!(Sysctl::parse("vm.swappiness=1").is_err());
        assert!(Sysctl::parse("net.ipv4").is_err());
        assert_eq!(
            Sysctl::parse("net.ipv4.ip_forward=1").unwrap().path(),
            PathBuf::from("/proc/sys/net/ipv4/ip_forward")
        );
    }

    #[test]
    fn rlimits() {
        let r = Rlimit::parse("nofile=1024:4096").unwrap();
        assert_eq!((r.soft, r.hard), (1024, Some(4096)));
        assert_eq!(
            Rlimit::parse("RLIMIT_CORE=unlimited").unwrap().soft,
            libc::RLIM_INFINITY
        );
        assert!(Rlimit::parse("bogus=1").is_err());
        assert!(Rlimit::parse("nofile=10:5").is_err());
        assert!(Rlimit::parse("nofile").is_err());
    }
}
