//! The files a container's `/etc` needs for its network: `resolv.conf`, `hosts`, `hostname`.
//!
//! They are written in place (not replaced by rename), so a bind mount of the file into a
//! container keeps seeing updates, as when another container joins the bridge.

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

/// The container's hosts file: localhost, itself, then the other named containers on its
/// bridge.
pub fn hosts(own: (Ipv4Addr, &str), others: &[(Ipv4Addr, String)]) -> String {
    let mut s = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    s.push_str(&format!("{}\t{}\n", own.0, own.1));
    for (ip, name) in others {
        if name != own.1 {
            s.push_str(&format!("{ip}\t{name}\n"));
        }
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

    #[test]
    fn hosts_lists_self_and_others() {
        let h = hosts(
            (Ipv4Addr::new(10, 88, 0, 2), "web"),
            &[(Ipv4Addr::new(10, 88, 0, 3), "db".to_string())],
        );
        assert!(h.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(h.contains("10.88.0.2\tweb\n"));
        assert!(h.ends_with("10.88.0.3\tdb\n"));
    }
}
