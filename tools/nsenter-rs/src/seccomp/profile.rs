//! A seccomp profile: Docker's JSON format (moby `profiles/seccomp/default.json`: `archMap`,
//! `includes`/`excludes`) or the OCI runtime-spec `linux.seccomp` object (a whole OCI
//! `config.json` is read from its `linux.seccomp`). Both share the core: `defaultAction`,
//! `defaultErrnoRet`, `architectures`, `flags`, and `syscalls[]` with `names`, `action`,
//! `errnoRet` and `args[]` of `{index, value, valueTwo, op}`.
//!
//! Parsing checks every action, operator and index, and names the field at fault
//! (`syscalls[3].args[0].op`); unknown syscall names are kept and skipped later, as runc
//! does for the names an architecture lacks.

use std::borrow::Cow;

use serde::Deserialize;

/// What the kernel does with a system call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    Errno(u16),
    KillThread,
    KillProcess,
    Trap,
    Log,
    /// SECCOMP_RET_TRACE with this value for the tracer (ENOSYS when no tracer is attached)
    Trace(u16),
}

impl Action {
    /// The SECCOMP_RET_* value a filter returns.
    pub fn ret(self) -> u32 {
        match self {
            Action::Allow => 0x7fff_0000,
            Action::Errno(e) => 0x0005_0000 | u32::from(e),
            Action::KillThread => 0,
            Action::KillProcess => 0x8000_0000,
            Action::Trap => 0x0003_0000,
            Action::Log => 0x7ffc_0000,
            Action::Trace(d) => 0x7ff0_0000 | u32::from(d),
        }
    }

    /// Whether the call goes through (allowed or only logged).
    pub fn lets_through(self) -> bool {
        matches!(self, Action::Allow | Action::Log)
    }
}

/// A comparison of one argument, over all 64 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    /// (arg & value) == value_two
    MaskedEq,
}

/// `args[]`: argument `index` compared with `value` (and `value_two` for MaskedEq).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arg {
    pub index: u8,
    pub value: u64,
    pub value_two: u64,
    pub op: Op,
}

/// `includes`/`excludes`: capabilities, architectures (Go names: amd64, arm64...) and a
/// minimum kernel version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub caps: Cow<'static, [Cow<'static, str>]>,
    pub arches: Cow<'static, [Cow<'static, str>]>,
    pub min_kernel: Option<(u32, u32)>,
}

impl Filter {
    pub const NONE: Filter = Filter {
        caps: Cow::Borrowed(&[]),
        arches: Cow::Borrowed(&[]),
        min_kernel: None,
    };
}

/// One entry of `syscalls[]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub names: Cow<'static, [Cow<'static, str>]>,
    /// the x86_64 numbers of `names` when known at build time (the built-in profile;
    /// `u32::MAX` for a name the architecture lacks), else empty
    pub nrs: &'static [u32],
    pub action: Action,
    /// all must hold (AND)
    pub args: Cow<'static, [Arg]>,
    pub includes: Filter,
    pub excludes: Filter,
}

/// A whole profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub default_action: Action,
    /// SECCOMP_FILTER_FLAG_* bits for seccomp(2)
    pub flags: u32,
    pub rules: Cow<'static, [Rule]>,
}

// ------------------------------------------------------------------------------- parsing

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProfile {
    default_action: Option<String>,
    default_errno_ret: Option<u32>,
    // architectures / archMap: only x86_64 is filtered natively (see the module docs of
    // crate::seccomp); they are read to check their shape
    #[serde(default)]
    #[allow(dead_code)]
    architectures: Option<Vec<String>>,
    #[serde(default)]
    #[allow(dead_code)]
    arch_map: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    flags: Option<Vec<String>>,
    #[serde(default)]
    listener_path: Option<String>,
    #[serde(default)]
    syscalls: Option<Vec<RawSyscall>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSyscall {
    #[serde(default)]
    names: Option<Vec<String>>,
    /// Docker's old single-name form
    #[serde(default)]
    name: Option<String>,
    action: Option<String>,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Option<Vec<RawArg>>,
    #[serde(default)]
    includes: Option<RawFilter>,
    #[serde(default)]
    excludes: Option<RawFilter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawArg {
    index: Option<u32>,
    value: Option<u64>,
    #[serde(default)]
    value_two: u64,
    op: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawFilter {
    #[serde(default)]
    caps: Option<Vec<String>>,
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default)]
    min_kernel: Option<String>,
}

/// Parse a profile from JSON text; the error names the field at fault.
pub fn parse(text: &str) -> Result<Profile, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    // a whole OCI config.json: its linux.seccomp
    let value = match value.pointer("/linux/seccomp") {
        Some(s) if value.get("ociVersion").is_some() => s.clone(),
        _ if value.get("ociVersion").is_some() => {
            return Err("OCI config has no linux.seccomp".into());
        }
        _ => value,
    };
    if !value.is_object() {
        return Err("not a seccomp profile (a JSON object with defaultAction)".into());
    }
    let raw: RawProfile =
        serde_json::from_value(value).map_err(|e| format!("not a seccomp profile: {e}"))?;
    let default_errno = match raw.default_errno_ret {
        Some(e) => Some(errno(e).map_err(|m| format!("defaultErrnoRet: {m}"))?),
        None => None,
    };
    let default_action = match raw.default_action.as_deref() {
        None => return Err("defaultAction: missing".into()),
        Some(a) => action(a, default_errno).map_err(|m| format!("defaultAction: {m}"))?,
    };
    if let Some(p) = raw.listener_path.filter(|p| !p.is_empty()) {
        return Err(format!(
            "listenerPath: '{p}': seccomp agents (SCMP_ACT_NOTIFY) are not supported"
        ));
    }
    let mut flags = 0;
    for (i, f) in raw.flags.unwrap_or_default().iter().enumerate() {
        flags |= match f.as_str() {
            "SECCOMP_FILTER_FLAG_TSYNC" => 1,
            "SECCOMP_FILTER_FLAG_LOG" => 2,
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => 4,
            _ => return Err(format!("flags[{i}]: unknown flag '{f}'")),
        };
    }
    let mut rules = Vec::new();
    for (i, s) in raw.syscalls.unwrap_or_default().into_iter().enumerate() {
        let at = |field: &str, m: String| format!("syscalls[{i}].{field}: {m}");
        let mut names = s.names.unwrap_or_default();
        names.extend(s.name);
        if names.is_empty() {
            return Err(at("names", "missing or empty".into()));
        }
        let errno_ret = match s.errno_ret {
            Some(e) => Some(errno(e).map_err(|m| at("errnoRet", m))?),
            None => None,
        };
        let act = match s.action.as_deref() {
            None => return Err(at("action", "missing".into())),
            Some(a) => action(a, errno_ret).map_err(|m| at("action", m))?,
        };
        let mut args = Vec::new();
        for (j, a) in s.args.unwrap_or_default().into_iter().enumerate() {
            let at = |field: &str, m: String| format!("syscalls[{i}].args[{j}].{field}: {m}");
            let index = match a.index {
                Some(n) if n <= 5 => n as u8,
                Some(n) => return Err(at("index", format!("{n} is not 0 to 5"))),
                None => return Err(at("index", "missing".into())),
            };
            let op = match a.op.as_deref() {
                None => return Err(at("op", "missing".into())),
                Some(o) => op(o).map_err(|m| at("op", m))?,
            };
            args.push(Arg {
                index,
                value: a.value.unwrap_or(0),
                value_two: a.value_two,
                op,
            });
        }
        let includes =
            filter(s.includes.unwrap_or_default()).map_err(|m| at("includes.minKernel", m))?;
        let excludes =
            filter(s.excludes.unwrap_or_default()).map_err(|m| at("excludes.minKernel", m))?;
        rules.push(Rule {
            names: names.into_iter().map(Cow::Owned).collect(),
            nrs: &[],
            action: act,
            args: Cow::Owned(args),
            includes,
            excludes,
        });
    }
    Ok(Profile {
        default_action,
        flags,
        rules: Cow::Owned(rules),
    })
}

fn errno(e: u32) -> Result<u16, String> {
    // the kernel returns at most MAX_ERRNO
    if e == 0 || e > 4095 {
        return Err(format!("{e} is not an errno value (1 to 4095)"));
    }
    Ok(e as u16)
}

fn action(name: &str, errno_ret: Option<u16>) -> Result<Action, String> {
    let eperm = libc::EPERM as u16;
    Ok(match name {
        "SCMP_ACT_ALLOW" => Action::Allow,
        "SCMP_ACT_ERRNO" => Action::Errno(errno_ret.unwrap_or(eperm)),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
        "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
        "SCMP_ACT_TRAP" => Action::Trap,
        "SCMP_ACT_LOG" => Action::Log,
        "SCMP_ACT_TRACE" => Action::Trace(errno_ret.unwrap_or(eperm)),
        "SCMP_ACT_NOTIFY" => {
            return Err("SCMP_ACT_NOTIFY needs a seccomp agent, which is not supported".into());
        }
        _ => return Err(format!("unknown action '{name}'")),
    })
}

fn op(name: &str) -> Result<Op, String> {
    Ok(match name {
        "SCMP_CMP_NE" => Op::Ne,
        "SCMP_CMP_LT" => Op::Lt,
        "SCMP_CMP_LE" => Op::Le,
        "SCMP_CMP_EQ" => Op::Eq,
        "SCMP_CMP_GE" => Op::Ge,
        "SCMP_CMP_GT" => Op::Gt,
        "SCMP_CMP_MASKED_EQ" => Op::MaskedEq,
        _ => return Err(format!("unknown operator '{name}'")),
    })
}

fn filter(f: RawFilter) -> Result<Filter, String> {
    let min_kernel = match f.min_kernel.as_deref() {
        None | Some("") => None,
        Some(v) => Some(parse_kernel(v).ok_or_else(|| format!("'{v}' is not MAJOR.MINOR"))?),
    };
    let owned = |v: Option<Vec<String>>| -> Cow<'static, [Cow<'static, str>]> {
        Cow::Owned(v.unwrap_or_default().into_iter().map(Cow::Owned).collect())
    };
    Ok(Filter {
        caps: owned(f.caps),
        arches: owned(f.arches),
        min_kernel,
    })
}

/// `MAJOR.MINOR` (anything after the minor number is ignored: `6.18.0-1-amd64`).
pub fn parse_kernel(v: &str) -> Option<(u32, u32)> {
    let mut it = v.split(['.', '-', '+']);
    let major = it.next()?.parse().ok()?;
    let minor = it
        .next()
        .map(|m| {
            m.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .filter(|m| !m.is_empty())
        .map_or(Some(0), |m| m.parse().ok())?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_shape_parses() {
        let p = parse(
            r#"{
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
            "syscalls": [
              {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "comment": ""},
              {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
               "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
               "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390x"]}},
              {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
              {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}}
            ]}"#,
        )
        .unwrap();
        assert_eq!(p.default_action, Action::Errno(1));
        assert_eq!(p.rules.len(), 4);
        assert_eq!(p.rules[1].args[0].op, Op::MaskedEq);
        assert_eq!(p.rules[1].args[0].value, 0x7E02_0000);
        assert_eq!(p.rules[1].excludes.caps[0], "CAP_SYS_ADMIN");
        assert_eq!(p.rules[2].action, Action::Errno(38));
        assert_eq!(p.rules[3].includes.min_kernel, Some((4, 8)));
    }

    #[test]
    fn oci_shape_and_config_parse() {
        let obj = r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"], "flags": ["SECCOMP_FILTER_FLAG_LOG"],
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}"#;
        let p = parse(obj).unwrap();
        assert_eq!(p.default_action, Action::Allow);
        assert_eq!(p.flags, 2);
        assert_eq!(p.rules[0].action, Action::Errno(libc::EPERM as u16));
        let cfg = format!(r#"{{"ociVersion": "1.0.2", "linux": {{"seccomp": {obj}}}}}"#);
        assert_eq!(parse(&cfg).unwrap(), p);
        assert!(
            parse(r#"{"ociVersion": "1.0.2", "linux": {}}"#)
                .unwrap_err()
                .contains("linux.seccomp")
        );
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            ("{", "not valid JSON"),
            ("[]", "not a seccomp profile"),
            (r#"{"syscalls": []}"#, "defaultAction: missing"),
            (
                r#"{"defaultAction": "SCMP_ACT_NOPE"}"#,
                "defaultAction: unknown action 'SCMP_ACT_NOPE'",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW"}, {"names": ["b"], "action": "X"}]}"#,
                "syscalls[1].action: unknown action 'X'",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_FOO"}]}]}"#,
                "syscalls[0].args[0].op: unknown operator 'SCMP_CMP_FOO'",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
                "syscalls[0].args[0].index: 6 is not 0 to 5",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]}"#,
                "syscalls[0].names: missing or empty",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000}"#,
                "defaultErrnoRet: 70000 is not an errno value",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#,
                "defaultAction: SCMP_ACT_NOTIFY needs a seccomp agent",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_X"]}"#,
                "flags[0]: unknown flag",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "x"}}]}"#,
                "syscalls[0].includes.minKernel: 'x' is not MAJOR.MINOR",
            ),
        ];
        for (text, want) in cases {
            let got = parse(text).unwrap_err();
            assert!(got.contains(want), "{text}: got '{got}', want '{want}'");
            assert!(!got.contains('\n'), "{got}");
        }
    }

    #[test]
    fn kernel_versions() {
        assert_eq!(parse_kernel("4.8"), Some((4, 8)));
        assert_eq!(parse_kernel("6.18.0-1-amd64"), Some((6, 18)));
        assert_eq!(parse_kernel("5"), Some((5, 0)));
        assert_eq!(parse_kernel("x.1"), None);
    }
}
