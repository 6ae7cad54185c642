//! `os/arch[/variant]`, and picking one manifest of an image index (OCI) or manifest list
//! (Docker) by it.

use std::fmt;

use crate::error::Error;

#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize)]
pub struct Platform {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl Platform {
    /// This machine's platform, in the GOARCH names images use.
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            "loongarch64" => "loong64",
            a => a,
        };
        let variant = match arch {
            "arm" => Some("v7".to_string()),
            _ => None,
        };
        Platform {
            os: "linux".into(),
            architecture: arch.into(),
            variant,
        }
    }

    /// `os/arch[/variant]`, as `--platform` takes it.
    pub fn parse(s: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok = |p: &&str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(ok) {
            return Err(format!(
                "'{s}' is not OS/ARCH[/VARIANT] (e.g. linux/amd64, linux/arm64, linux/arm/v7)"
            ));
        }
        Ok(Platform {
            os: parts[0].into(),
            architecture: parts[1].into(),
            variant: parts.get(2).map(|v| v.to_string()),
        })
    }

    fn norm_variant(&self) -> Option<&str> {
        match (self.architecture.as_str(), self.variant.as_deref()) {
            (_, Some("")) => None,
            // arm64 is v8 unless said otherwise
            ("arm64", Some("v8")) => None,
            (_, v) => v,
        }
    }

    /// Whether an index entry with platform `self` serves a request for `want`.
    pub fn satisfies(&self, want: &Platform) -> bool {
        self.os == want.os
            && self.architecture == want.architecture
            && (want.norm_variant().is_none() || self.norm_variant() == want.norm_variant())
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = self.variant.as_deref().filter(|v| !v.is_empty()) {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The index entry for `want` among `entries` (each its platform, if it has one): the
/// first that satisfies it, preferring the exact variant. Attestation manifests
/// (platform unknown/unknown) never match. An error lists what the index offers.
pub fn pick(entries: &[Option<&Platform>], want: &Platform, what: &str) -> Result<usize, Error> {
    if entries.is_empty() {
        return Err(Error::msg(format!("{what}: the index lists no manifests")));
    }
    let matches: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].is_some_and(|p| p.satisfies(want)))
        .collect();
    if let Some(&i) = matches
        .iter()
        .find(|&&i| entries[i].is_some_and(|p| p.norm_variant() == want.norm_variant()))
        .or(matches.first())
    {
        return Ok(i);
    }
    // an index whose single entry has no platform (as some tools write): that one
    if entries.len() == 1 && entries[0].is_none() {
        return Ok(0);
    }
    let offered: Vec<String> = entries
        .iter()
        .flatten()
        .filter(|p| p.os != "unknown")
        .map(|p| p.to_string())
        .collect();
    Err(Error::msg(format!(
        "{what}: no image for {want} (the index has: {}); --platform picks another",
        if offered.is_empty() {
            "no platforms".to_string()
        } else {
            offered.join(", ")
        }
    )))
}

pub fn parse_arg(s: &str) -> Result<Platform, String> {
    Platform::parse(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pf(s: &str) -> Platform {
        Platform::parse(s).unwrap()
    }

    #[test]
    fn parse_and_match() {
        assert_eq!(pf("linux/arm/v7").variant.as_deref(), Some("v7"));
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux/amd64/v1/x").is_err());
        assert!(Platform::parse("Linux/amd64").is_err());
        assert!(pf("linux/arm64/v8").satisfies(&pf("linux/arm64")));
        assert!(pf("linux/arm64").satisfies(&pf("linux/arm64/v8")));
        assert!(!pf("linux/arm/v6").satisfies(&pf("linux/arm/v7")));
        assert!(pf("linux/arm/v7").satisfies(&pf("linux/arm")));
        assert_eq!(pf("linux/arm/v7").to_string(), "linux/arm/v7");
    }

    #[test]
    fn picks() {
        let a = pf("linux/amd64");
        let b = pf("linux/arm64/v8");
        let u = pf("unknown/unknown");
        let e = [Some(&u), Some(&a), Some(&b)];
        assert_eq!(pick(&e, &pf("linux/amd64"), "x").unwrap(), 1);
        assert_eq!(pick(&e, &pf("linux/arm64"), "x").unwrap(), 2);
        let err = pick(&e, &pf("linux/s390x"), "x").unwrap_err().to_string();
        assert!(err.contains("linux/amd64, linux/arm64/v8"), "{err}");
        assert_eq!(pick(&[None], &a, "x").unwrap(), 0);
        assert!(pick(&[], &a, "x").is_err());
    }
}
