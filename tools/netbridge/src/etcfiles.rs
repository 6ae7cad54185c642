//! The files a container's `/etc` needs for its network: `resolv.conf`, `hosts`, `hostname`.
//!
//! `resolv.conf` and `hostname` are the container's own. `hosts` is the network's: one file
//! per network (`$ROOT/netbridge/hosts/NETWORK`) listing every container on it, which each
//! container's `DIR/hosts` is a symlink to. A launcher binds `DIR/hosts` (mount follows the
//! link) read-only, so every container of the network sees that one inode, and one write
//! per attach or detach serves them all. The file is therefore updated in place, never
//! replaced by rename (a bind mount keeps the inode it was made with), under the store's
//! lock: an attach appends its line, a detach rewrites the file from offset 0 and cuts it.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use crate::error::Error;

/// Docker's fallback when the host has no usable (non-loopback) resolver.
const FALLBACK_DNS: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

/// A container's resolv.conf made from the host's: loopback name servers (unreachable from
/// another network namespace) are dropped, search/options kept; with none left, the
/// public fallback resolvers. systemd-resolved's stub (127.0.0.53) is replaced by the
/// upstream list it keeps, when present, as Docker does.
pub fn resolv_conf(host: &str, upstream: Option<&str>) -> String {
    let mut text = host;
    if let Some(up) = upstream {
        if servers(host).iter().any(|s| s == "127.0.0.53") {
            text = up;
        }
    }
    let mut out = String::new();
    let mut kept = 0;
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("nameserver") {
            let addr = rest.trim();
            let ip = addr.split('%').next().unwrap_or("").parse::<IpAddr>();
            match ip {
                Ok(ip) if ip.is_loopback() => continue,
                Ok(_) => {
                    kept += 1;
                    out.push_str(&format!("nameserver {addr}\n"));
                }
                Err(_) => continue,
            }
        } else if t.starts_with("search") || t.starts_with("domain") || t.starts_with("options") {
            out.push_str(t);
            out.push('\n');
        }
    }
    if kept == 0 {
        let mut with_fallback: String = FALLBACK_DNS
            .iter()
            .map(|s| format!("nameserver {s}\n"))
            .collect();
        with_fallback.push_str(&out);
        return with_fallback;
    }
    out
}

/// `resolv` with its name servers, search list or options replaced by those given (each
/// list only when not empty), as Docker's --dns, --dns-search and --dns-option do.
pub fn with_dns(resolv: &str, servers: &[String], search: &[String], options: &[String]) -> String {
    let mut out = String::new();
    let replaced = |t: &str, key: &str, given: &[String]| !given.is_empty() && t.starts_with(key);
    for line in resolv.lines() {
        let t = line.trim();
        if replaced(t, "nameserver", servers)
            || replaced(t, "search", search)
            || replaced(t, "domain", search)
            || replaced(t, "options", options)
        {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    for s in servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

fn servers(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .map(|s| s.trim().to_string())
        .collect()
}

/// One line of a network's hosts file: an attachment's address and its names (its
/// hostname first). Keyed by the attachment (its host veth), so more names (aliases) can
/// join a line without the file's shape changing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntry {
    pub key: String,
    pub ip: Ipv4Addr,
    pub names: Vec<String>,
}

/// A network's hosts file: localhost, then one line per entry, in attach order.
pub fn network_hosts(entries: &[HostEntry]) -> String {
    let mut s = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    for e in entries.iter().filter(|e| !e.names.is_empty()) {
        s.push_str(&format!("{}\t{}\n", e.ip, e.names.join(" ")));
    }
    s
}

/// Write `data` to `path` in place (truncate and write).
pub fn write_in_place(path: &Path, data: &str) -> Result<(), Error> {
    let res = (|| -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        // bound into the container, where any user reads them: 0644 whatever our umask
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
        f.write_all(data.as_bytes())
    })();
    res.map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Bring the file at `path` to `data` in place, keeping its inode (bind mounts of it see
/// the change): when the file holds a prefix of `data`, only the rest is appended (a
/// reader sees the old lines or the old lines and new ones, never a gap); otherwise it is
/// overwritten from offset 0 and cut to length (never emptied first). Returns whether it
/// wrote anything.
pub fn update_in_place(path: &Path, data: &str) -> Result<bool, Error> {
    use std::io::Read;
    use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
    let res = (|| -> io::Result<bool> {
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)?;
        let mut old = Vec::new();
        f.read_to_end(&mut old)?;
        let new = data.as_bytes();
        if old == new {
            return Ok(false);
        }
        if f.metadata()?.permissions().mode() & 0o777 != 0o644 {
            f.set_permissions(std::fs::Permissions::from_mode(0o644))?;
        }
        if new.starts_with(&old) {
            f.write_all_at(&new[old.len()..], old.len() as u64)?;
        } else {
            f.write_all_at(new, 0)?;
            f.set_len(new.len() as u64)?;
        }
        Ok(true)
    })();
    res.map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Make `link` a symlink to `target`, replacing whatever is there (by rename, so the name
/// never goes missing).
pub fn symlink_replace(target: &Path, link: &Path) -> Result<(), Error> {
    let mut tmp = link.as_os_str().to_owned();
    tmp.push(".new");
    let tmp = std::path::PathBuf::from(tmp);
    let res = (|| -> io::Result<()> {
        match std::fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::os::unix::fs::symlink(target, &tmp)?;
        std::fs::rename(&tmp, link).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    })();
    res.map_err(|source| Error::Write {
        path: link.to_path_buf(),
        source,
    })
}

/// The host's resolv.conf and systemd-resolved's upstream list (if any).
pub fn host_resolv() -> (String, Option<String>) {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let up = std::fs::read_to_string("/run/systemd/resolve/resolv.conf").ok();
    (host, up)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_resolvers_are_dropped() {
        let r = resolv_conf(
            "nameserver 127.0.0.1\nnameserver 10.0.0.2\nsearch example.org\n",
            None,
        );
        assert_eq!(r, "nameserver 10.0.0.2\nsearch example.org\n");
    }

    #[test]
    fn only_loopback_gives_fallback() {
        let r = resolv_conf(
            "nameserver 127.0.0.1\nnameserver ::1\noptions ndots:2\n",
            None,
        );
        assert_eq!(
            r,
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\noptions ndots:2\n"
        );
    }

    #[test]
    fn resolved_stub_uses_upstream() {
        let r = resolv_conf("nameserver 127.0.0.53\n", Some("nameserver 192.0.2.53\n"));
        assert_eq!(r, "nameserver 192.0.2.53\n");
    }

    fn entry(ip: [u8; 4], names: &[&str]) -> HostEntry {
        HostEntry {
            key: format!("v{}", ip[3]),
            ip: Ipv4Addr::from(ip),
            names: names.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn network_hosts_lists_every_entry_with_its_names() {
        let h = network_hosts(&[
            entry([10, 88, 0, 2], &["web"]),
            entry([10, 88, 0, 3], &["db", "db.alias"]),
            entry([10, 88, 0, 4], &[]),
        ]);
        assert!(h.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(h.contains("10.88.0.2\tweb\n"));
        assert!(h.ends_with("10.88.0.3\tdb db.alias\n"));
        assert!(!h.contains("10.88.0.4"));
    }

    #[test]
    fn updates_keep_the_inode_and_append_when_they_can() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("hosts");
        assert!(update_in_place(&p, "a\nb\n").unwrap());
        let ino = std::fs::metadata(&p).unwrap().ino();
        // a reader holding the file open (as a bind mount holds the inode) sees each change
        let held = std::fs::File::open(&p).unwrap();
        let read = || {
            use std::io::{Read, Seek};
            let mut f = &held;
            f.rewind().unwrap();
            let mut s = String::new();
            f.read_to_string(&mut s).unwrap();
            s
        };
        assert!(update_in_place(&p, "a\nb\nc\n").unwrap());
        assert_eq!(read(), "a\nb\nc\n");
        assert!(update_in_place(&p, "a\nc\n").unwrap());
        assert_eq!(read(), "a\nc\n");
        assert!(!update_in_place(&p, "a\nc\n").unwrap());
        assert_eq!(std::fs::metadata(&p).unwrap().ino(), ino);
    }

    #[test]
    fn symlinks_replace_files() {
        let d = tempfile::tempdir().unwrap();
        let (t, l) = (d.path().join("t"), d.path().join("l"));
        std::fs::write(&t, "x").unwrap();
        std::fs::write(&l, "old").unwrap();
        symlink_replace(&t, &l).unwrap();
        assert_eq!(std::fs::read_link(&l).unwrap(), t);
        symlink_replace(&t, &l).unwrap();
        assert_eq!(std::fs::read_to_string(&l).unwrap(), "x");
    }
}
