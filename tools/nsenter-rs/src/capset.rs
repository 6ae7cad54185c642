//! Capabilities: Docker's default set, `--cap-add/--cap-drop/--privileged`, and applying a
//! set to every capability set of the process (bounding, permitted, effective, inheritable;
//! ambient cleared), or copying another process's sets (`--caps=target`).

use caps::{CapSet, Capability, CapsHashSet};

/// Docker's default capability set (moby `oci/caps/defaults.go`).
pub const DEFAULT: [Capability; 14] = [
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FSETID,
    Capability::CAP_FOWNER,
    Capability::CAP_MKNOD,
    Capability::CAP_NET_RAW,
    Capability::CAP_SETGID,
    Capability::CAP_SETUID,
    Capability::CAP_SETFCAP,
    Capability::CAP_SETPCAP,
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_SYS_CHROOT,
    Capability::CAP_KILL,
    Capability::CAP_AUDIT_WRITE,
];

/// A capability named on the command line, or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapArg {
    All,
    One(Capability),
}

/// One `--cap-add`/`--cap-drop` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapList(pub Vec<CapArg>);

/// Parse `chown,NET_ADMIN,cap_sys_time` or `all`.
pub fn parse_cap_list(s: &str) -> Result<CapList, String> {
    s.split(',')
        .map(|name| {
            let name = name.trim();
            if name.eq_ignore_ascii_case("all") {
                return Ok(CapArg::All);
            }
            let upper = name.to_ascii_uppercase();
            let full = if upper.starts_with("CAP_") {
                upper
            } else {
                format!("CAP_{upper}")
            };
            full.parse::<Capability>()
                .map(CapArg::One)
                .map_err(|_| format!("unknown capability '{name}'"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(CapList)
}

/// Every capability the running kernel knows.
pub fn all_supported() -> CapsHashSet {
    static ALL: std::sync::OnceLock<CapsHashSet> = std::sync::OnceLock::new();
    ALL.get_or_init(caps::runtime::thread_all_supported).clone()
}

/// Every capability we can still hand on: the supported ones in our bounding set (root
/// here may lack some, such as CAP_SYS_RESOURCE).
pub fn all_available() -> CapsHashSet {
    let bounding = caps::read(None, CapSet::Bounding).unwrap_or_default();
    all_supported()
        .into_iter()
        .filter(|c| bounding.contains(c))
        .collect()
}

/// The set a new container gets: the default (or everything with `--privileged`), then
/// `--cap-drop`, then `--cap-add`.
pub fn container_set(privileged: bool, add: &[CapArg], drop: &[CapArg]) -> CapsHashSet {
    let all = all_available();
    let mut set: CapsHashSet = if privileged {
        all.clone()
    } else {
        DEFAULT
            .iter()
            .copied()
            .filter(|c| all.contains(c))
            .collect()
    };
    for d in drop {
        match d {
            CapArg::All => set.clear(),
            CapArg::One(c) => {
                set.remove(c);
            }
        }
    }
    for a in add {
        match a {
            CapArg::All => set.extend(all.iter().copied()),
            CapArg::One(c) => {
                if all.contains(c) {
                    set.insert(*c);
                }
            }
        }
    }
    set
}

/// The bit mask of a set, as `/proc/PID/status` shows it.
pub fn mask(set: &CapsHashSet) -> u64 {
    set.iter().fold(0, |m, c| m | c.bitmask())
}

/// The set of a bit mask.
pub fn from_mask(m: u64) -> CapsHashSet {
    all_supported()
        .into_iter()
        .filter(|c| m & c.bitmask() != 0)
        .collect()
}

/// The sets to give a process.
#[derive(Debug, Clone, Default)]
pub struct Sets {
    pub bounding: CapsHashSet,
    pub permitted: CapsHashSet,
    pub effective: CapsHashSet,
    pub inheritable: CapsHashSet,
    pub ambient: CapsHashSet,
}

impl Sets {
    /// The same set in bounding, permitted and effective; inheritable and ambient empty
    /// (what a container gets: an inheritable set would let a program with file
    /// capabilities gain them even as a user without any, CVE-2022-24769).
    pub fn uniform(set: &CapsHashSet) -> Sets {
        Sets {
            bounding: set.clone(),
            permitted: set.clone(),
            effective: set.clone(),
            inheritable: CapsHashSet::new(),
            ambient: CapsHashSet::new(),
        }
    }

    /// Another process's sets and no_new_privs, from `/proc/PID/status`.
    pub fn of_process(pid: i32) -> std::io::Result<(Sets, bool)> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| -> u64 {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
                .unwrap_or(0)
        };
        let nnp = text
            .lines()
            .find_map(|l| l.strip_prefix("NoNewPrivs:"))
            .is_some_and(|v| v.trim() == "1");
        Ok((
            Sets {
                bounding: from_mask(field("CapBnd:")),
                permitted: from_mask(field("CapPrm:")),
                effective: from_mask(field("CapEff:")),
                inheritable: from_mask(field("CapInh:")),
                ambient: from_mask(field("CapAmb:")),
            },
            nnp,
        ))
    }
}

/// Step one, while still privileged: shrink the bounding set.
pub fn apply_bounding(sets: &Sets) -> Result<(), caps::errors::CapsError> {
    for c in all_supported() {
        if !sets.bounding.contains(&c) {
            caps::drop(None, CapSet::Bounding, c)?;
        }
    }
    Ok(())
}

/// Step two, after any user switch: effective, permitted, inheritable, ambient.
pub fn apply_process_sets(sets: &Sets) -> Result<(), caps::errors::CapsError> {
    let h = |s: &CapsHashSet| -> CapsHashSet { s.clone() };
    // effective must stay within permitted at every step: shrink it first
    let eff_now = caps::read(None, CapSet::Effective)?;
    let eff_tmp: CapsHashSet = eff_now.intersection(&h(&sets.permitted)).copied().collect();
    caps::set(None, CapSet::Effective, &eff_tmp)?;
    caps::set(None, CapSet::Inheritable, &h(&sets.inheritable))?;
    caps::set(None, CapSet::Permitted, &h(&sets.permitted))?;
    caps::set(None, CapSet::Effective, &h(&sets.effective))?;
    caps::clear(None, CapSet::Ambient)?;
    for c in &sets.ambient {
        caps::raise(None, CapSet::Ambient, *c)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_mask_is_dockers() {
        let set = container_set(false, &[], &[]);
        assert_eq!(mask(&set), 0x0000_0000_a804_25fb);
    }

    #[test]
    fn names_parse_with_or_without_prefix() {
        assert_eq!(
            parse_cap_list("chown,CAP_NET_ADMIN").unwrap().0,
            vec![
                CapArg::One(Capability::CAP_CHOWN),
                CapArg::One(Capability::CAP_NET_ADMIN)
            ]
        );
        assert_eq!(parse_cap_list("ALL").unwrap().0, vec![CapArg::All]);
        assert!(parse_cap_list("bogus").unwrap_err().contains("bogus"));
    }

    #[test]
    fn add_and_drop() {
        let set = container_set(
            false,
            &[CapArg::One(Capability::CAP_NET_ADMIN)],
            &[CapArg::All],
        );
        assert_eq!(set.len(), 1);
        assert!(container_set(false, &[], &[CapArg::All]).is_empty());
        assert_eq!(container_set(true, &[], &[]), all_available());
    }
}
