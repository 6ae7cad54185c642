//! Values of create-mode options: volumes, tmpfs mounts, devices, ID maps, sysctls, rlimits.
//! Parsing happens at the command line, so a bad value is a usage error naming the flag.

use std::path::{Component, Path, PathBuf};

use common::ns::NsKind;

/// `--bind SRC:DST[:ro]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindSpec {
    pub src: PathBuf,
    pub dst: PathBuf,
    pub read_only: bool,
}

impl BindSpec {
    pub fn parse(s: &str) -> Result<BindSpec, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let (src, dst, ro) = match parts.as_slice() {
            [src, dst] => (*src, *dst, false),
            [src, dst, "ro"] => (*src, *dst, true),
            [src, dst, "rw"] => (*src, *dst, false),
            [_, _, opt] => {
                return Err(format!(
                    "unknown bind option '{opt}' in '{s}' (expected ro or rw)"
                ));
            }
            _ => return Err(format!("'{s}' is not SRC:DST[:ro]")),
        };
        if src.is_empty() || dst.is_empty() {
            return Err(format!("'{s}' is not SRC:DST[:ro]"));
        }
        Ok(BindSpec {
            src: PathBuf::from(src),
            dst: container_path(dst)?,
            read_only: ro,
        })
    }
}

/// `--tmpfs DST[:SIZE]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TmpfsSpec {
    pub dst: PathBuf,
    pub size: Option<u64>,
}

impl TmpfsSpec {
    pub fn parse(s: &str) -> Result<TmpfsSpec, String> {
        let (dst, size) = match s.split_once(':') {
            Some((d, sz)) => (
                d,
                Some(common::parse::parse_bytes(sz).map_err(|e| e.to_string())?),
            ),
            None => (s, None),
        };
        Ok(TmpfsSpec {
            dst: container_path(dst)?,
            size,
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
        assert_eq!(TmpfsSpec::parse("/run:64m").unwrap().size, Some(64 << 20));
        assert_eq!(TmpfsSpec::parse("/run").unwrap().size, None);
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
