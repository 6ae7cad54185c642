//! Mirrors from `/etc/containers/registries.conf` (v2 format, as podman and skopeo read it;
//! `$CONTAINERS_REGISTRIES_CONF` names another file): for a reference under a `[[registry]]`
//! prefix, each `[[registry.mirror]]` location is tried first, then the registry's own
//! `location`. Only the keys that matter here are read (`prefix`, `location`, `insecure`,
//! `blocked`); the rest of the file is left alone.

use std::path::PathBuf;

use super::reference::Reference;
use crate::error::Error;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Endpoint {
    location: String,
    insecure: bool,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Registry {
    prefix: String,
    main: Endpoint,
    blocked: bool,
    mirrors: Vec<Endpoint>,
}

pub fn conf_path() -> PathBuf {
    std::env::var_os("CONTAINERS_REGISTRIES_CONF")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/containers/registries.conf"))
}

/// A TOML string or boolean value; `None` for anything else.
fn value(v: &str) -> Option<String> {
    let v = v.trim();
    if let Some(s) = v.strip_prefix('"') {
        let end = s.find('"')?;
        return Some(s[..end].replace("\\\\", "\\"));
    }
    if let Some(s) = v.strip_prefix('\'') {
        return Some(s[..s.find('\'')?].to_string());
    }
    let bare = v.split('#').next().unwrap_or("").trim();
    matches!(bare, "true" | "false").then(|| bare.to_string())
}

fn parse(text: &str) -> Vec<Registry> {
    let mut regs: Vec<Registry> = Vec::new();
    // which table the keys belong to: none, the last [[registry]], or its last mirror
    #[derive(PartialEq)]
    enum At {
        Other,
        Registry,
        Mirror,
    }
    let mut at = At::Other;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            let name: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            at = match name.as_str() {
                "[[registry]]" => {
                    regs.push(Registry::default());
                    At::Registry
                }
                "[[registry.mirror]]" if !regs.is_empty() => {
                    if let Some(r) = regs.last_mut() {
                        r.mirrors.push(Endpoint::default());
                    }
                    At::Mirror
                }
                _ => At::Other,
            };
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let (k, Some(v)) = (k.trim(), value(v)) else {
            continue;
        };
        let Some(r) = regs.last_mut() else { continue };
        match (&at, k) {
            (At::Registry, "prefix") => r.prefix = v,
            (At::Registry, "location") => r.main.location = v,
            (At::Registry, "insecure") => r.main.insecure = v == "true",
            (At::Registry, "blocked") => r.blocked = v == "true",
            (At::Mirror, "location") => {
                if let Some(m) = r.mirrors.last_mut() {
                    m.location = v;
                }
            }
            (At::Mirror, "insecure") => {
                if let Some(m) = r.mirrors.last_mut() {
                    m.insecure = v == "true";
                }
            }
            _ => {}
        }
    }
    for r in &mut regs {
        if r.prefix.is_empty() {
            r.prefix = r.main.location.clone();
        }
        if r.main.location.is_empty() {
            r.main.location = r.prefix.clone();
        }
        r.mirrors.retain(|m| !m.location.is_empty());
    }
    regs.retain(|r| !r.prefix.is_empty());
    regs
}

/// Whether `name` (`registry/repo`) is under `prefix` (a whole path component at a time).
fn under(name: &str, prefix: &str) -> bool {
    let p = prefix.trim_end_matches('/');
    name == p
        || name
            .strip_prefix(p)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The references to try for `r`, in order, each with whether it may be insecure (plain
/// HTTP, no certificate check); just `r` itself when no `[[registry]]` covers it.
pub fn candidates_in(text: &str, r: &Reference) -> Result<Vec<(Reference, bool)>, Error> {
    let name = format!("{}/{}", r.registry, r.repository);
    let regs = parse(text);
    let Some(reg) = regs
        .iter()
        .filter(|g| under(&name, &g.prefix))
        .max_by_key(|g| g.prefix.len())
    else {
        return Ok(vec![(r.clone(), false)]);
    };
    if reg.blocked {
        return Err(Error::msg(format!(
            "{r}: registry {} is blocked in {}",
            reg.prefix,
            conf_path().display()
        )));
    }
    let rest = &name[reg.prefix.trim_end_matches('/').len()..];
    let mut out = Vec::new();
    for e in reg.mirrors.iter().chain(std::iter::once(&reg.main)) {
        let loc = format!("{}{rest}", e.location.trim_end_matches('/'));
        let Some((host, repo)) = loc.split_once('/') else {
            common::debug!("registries.conf: '{loc}' has no repository: skipped");
            continue;
        };
        out.push((
            Reference {
                registry: host.to_string(),
                repository: repo.to_string(),
                tag: r.tag.clone(),
                digest: r.digest.clone(),
            },
            e.insecure,
        ));
    }
    Ok(out)
}

/// [`candidates_in`] the registries.conf of this machine (none: `r` alone).
pub fn candidates(r: &Reference) -> Result<Vec<(Reference, bool)>, Error> {
    let p = conf_path();
    match std::fs::read_to_string(&p) {
        Ok(t) => candidates_in(&t, r),
        Err(e) => {
            if e.kind() != std::io::ErrorKind::NotFound {
                common::debug!("{}: {e}: no mirrors", p.display());
            }
            Ok(vec![(r.clone(), false)])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = r#"
unqualified-search-registries = ["docker.io"]

[[registry]]
prefix = "docker.io"
location = "docker.io"

[[registry.mirror]]
location = "127.0.0.1:5000/hub"
insecure = true

[[registry.mirror]]
location = "mirror.example.com"

[[registry]]
prefix = "quay.io/blocked"
blocked = true

[[registry]]
location = "ghcr.io"
"#;

    fn names(v: &[(Reference, bool)]) -> Vec<String> {
        v.iter()
            .map(|(r, i)| format!("{}/{} {i}", r.registry, r.repository))
            .collect()
    }

    #[test]
    fn mirrors_first_then_the_registry() {
        let r = Reference::parse("busybox:1").unwrap();
        let c = candidates_in(CONF, &r).unwrap();
        assert_eq!(
            names(&c),
            [
                "127.0.0.1:5000/hub/library/busybox true",
                "mirror.example.com/library/busybox false",
                "docker.io/library/busybox false"
            ]
        );
        assert_eq!(c[0].0.tag.as_deref(), Some("1"));
        let r = Reference::parse("ghcr.io/a/b").unwrap();
        assert_eq!(
            names(&candidates_in(CONF, &r).unwrap()),
            ["ghcr.io/a/b false"]
        );
        let r = Reference::parse("quay.io/other/x").unwrap();
        assert_eq!(
            names(&candidates_in(CONF, &r).unwrap()),
            ["quay.io/other/x false"]
        );
        let r = Reference::parse("quay.io/blocked/x").unwrap();
        assert!(candidates_in(CONF, &r).is_err());
        // a prefix matches whole components only
        let r = Reference::parse("ghcr.io2/a").unwrap_or_else(|_| Reference::parse("x").unwrap());
        assert_eq!(candidates_in(CONF, &r).unwrap().len(), 1);
    }
}
