//! Image references with Docker's rules: `busybox` is `docker.io/library/busybox:latest`,
//! `host:port/repo:tag`, `repo@sha256:<hex>`.

use std::fmt;

use crate::error::Error;

pub const DOCKER_HUB: &str = "docker.io";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `docker.io`, `quay.io`, `127.0.0.1:5000`
    pub registry: String,
    /// `library/busybox`
    pub repository: String,
    /// `latest` when neither a tag nor a digest was given
    pub tag: Option<String>,
    pub digest: Option<String>,
}

fn bad(s: &str, why: &str) -> Error {
    Error::Usage(format!("invalid image reference '{s}': {why}"))
}

fn valid_component(c: &str) -> bool {
    // lowercase alphanumerics separated by '.', '_', '__' or runs of '-'
    !c.is_empty()
        && c.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_' || b == b'-'
        })
        && c.as_bytes()[0].is_ascii_alphanumeric()
        && c.as_bytes()[c.len() - 1].is_ascii_alphanumeric()
}

fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
        && (t.as_bytes()[0].is_ascii_alphanumeric() || t.as_bytes()[0] == b'_')
}

fn valid_host(h: &str) -> bool {
    let (host, port) = match h.rsplit_once(':') {
        Some((a, p)) if !a.ends_with(']') || h.starts_with('[') => (a, Some(p)),
        _ => (h, None),
    };
    let host_ok = if host.starts_with('[') && host.ends_with(']') {
        host[1..host.len() - 1]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':')
    } else {
        !host.is_empty()
            && host
                .split('.')
                .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    };
    host_ok && port.is_none_or(|p| !p.is_empty() && p.parse::<u16>().is_ok())
}

impl Reference {
    pub fn parse(s: &str) -> Result<Reference, Error> {
        if s.is_empty() {
            return Err(bad(s, "empty"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                crate::store::digest_hex(d, s).map_err(|_| {
                    bad(s, "the digest must be sha256: and 64 lowercase hex digits")
                })?;
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        // a tag follows the last ':' that is after the last '/'
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i + 1..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(bad(
                    s,
                    "a TAG is up to 128 letters, digits and . _ - (not first: . -)",
                ));
            }
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                if !valid_host(first) {
                    return Err(bad(s, &format!("'{first}' is not a registry HOST[:PORT]")));
                }
                let reg = if first == "index.docker.io" || first == "registry-1.docker.io" {
                    DOCKER_HUB.to_string()
                } else {
                    first.to_string()
                };
                (reg, path.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        if path.is_empty() || !path.split('/').all(valid_component) {
            return Err(bad(
                s,
                "the repository is lowercase letters, digits and . _ - separated by /",
            ));
        }
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if repository.len() > 255 {
            return Err(bad(s, "the repository name is longer than 255 characters"));
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, Some(_)) => None,
            (None, None) => Some("latest".to_string()),
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The tag or digest to ask the registry for (the digest wins when both are given).
    pub fn object(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The repository as Docker shows it: `busybox`, `user/app`, `quay.io/x/y`.
    pub fn familiar_repo(&self) -> String {
        if self.registry == DOCKER_HUB {
            self.repository
                .strip_prefix("library/")
                .filter(|r| !r.contains('/'))
                .unwrap_or(&self.repository)
                .to_string()
        } else {
            format!("{}/{}", self.registry, self.repository)
        }
    }

    /// The name the image gets in the store: `busybox:latest`, `host:5000/app:v1`, or
    /// `app@sha256:...` for a pull by digest alone.
    pub fn store_name(&self) -> String {
        let repo = self.familiar_repo();
        match (&self.tag, &self.digest) {
            (Some(t), _) => format!("{repo}:{t}"),
            (None, Some(d)) => format!("{repo}@{d}"),
            (None, None) => format!("{repo}:latest"),
        }
    }

    /// The host to contact: Docker Hub's API lives at registry-1.docker.io.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }

    /// Whether the registry is on this machine (plain HTTP is then allowed, as Docker does).
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.registry)
    }
}

pub fn is_loopback_host(registry: &str) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => registry,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> (String, String, Option<String>, Option<String>) {
        let r = Reference::parse(s).unwrap();
        (r.registry, r.repository, r.tag, r.digest)
    }

    #[test]
    fn docker_rules() {
        let d = format!("sha256:{}", "ab".repeat(32));
        let s = |x: &str| Some(x.to_string());
        assert_eq!(
            p("busybox"),
            (
                "docker.io".into(),
                "library/busybox".into(),
                s("latest"),
                None
            )
        );
        assert_eq!(
            p("user/app:v1"),
            ("docker.io".into(), "user/app".into(), s("v1"), None)
        );
        assert_eq!(
            p("127.0.0.1:5000/a/b:t"),
            ("127.0.0.1:5000".into(), "a/b".into(), s("t"), None)
        );
        assert_eq!(
            p("localhost/x"),
            ("localhost".into(), "x".into(), s("latest"), None)
        );
        assert_eq!(
            p("localhost:5000/x"),
            ("localhost:5000".into(), "x".into(), s("latest"), None)
        );
        assert_eq!(
            p(&format!("quay.io/x/y@{d}")),
            ("quay.io".into(), "x/y".into(), None, Some(d.clone()))
        );
        assert_eq!(
            p(&format!("busybox:1.36@{d}")),
            (
                "docker.io".into(),
                "library/busybox".into(),
                s("1.36"),
                Some(d.clone())
            )
        );
        assert_eq!(
            p("index.docker.io/library/busybox").1,
            "library/busybox".to_string()
        );
        assert_eq!(
            Reference::parse("busybox").unwrap().store_name(),
            "busybox:latest"
        );
        assert_eq!(
            Reference::parse("docker.io/user/app:v1")
                .unwrap()
                .store_name(),
            "user/app:v1"
        );
        assert_eq!(
            Reference::parse("127.0.0.1:5000/app").unwrap().store_name(),
            "127.0.0.1:5000/app:latest"
        );
        assert_eq!(
            Reference::parse(&format!("127.0.0.1:5000/app@{d}"))
                .unwrap()
                .store_name(),
            format!("127.0.0.1:5000/app@{d}")
        );
    }

    #[test]
    fn bad_references() {
        for s in [
            "",
            "UPPER",
            "a//b",
            "a:",
            "a@sha256:xyz",
            "a@md5:abc",
            "-a",
            "a:-t",
            "host:99999/x",
            "a/b/",
            "a b",
        ] {
            assert!(Reference::parse(s).is_err(), "{s} should be refused");
        }
    }

    #[test]
    fn loopback() {
        assert!(is_loopback_host("127.0.0.1:5000"));
        assert!(is_loopback_host("localhost"));
        assert!(is_loopback_host("[::1]:5000"));
        assert!(!is_loopback_host("quay.io"));
        assert!(!is_loopback_host("10.0.0.1:5000"));
    }
}
