//! `-o FIELDS` columns and `--filter KEY=VALUE` predicates.

use common::discover::{Container, Snapshot};
use common::parse::ParseError;

/// A column of the container list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Id,
    Name,
    Runtime,
    Pid,
    Command,
    Uptime,
    Pids,
    Mem,
    Cpu,
    Ip,
    Namespaces,
    Image,
    Status,
    Created,
    Ports,
    Pod,
    PodNamespace,
}

impl Field {
    /// The columns shown without `-o`.
    pub const DEFAULT: [Field; 11] = [
        Field::Id,
        Field::Name,
        Field::Runtime,
        Field::Pid,
        Field::Command,
        Field::Uptime,
        Field::Pids,
        Field::Mem,
        Field::Cpu,
        Field::Ip,
        Field::Namespaces,
    ];

    /// Every column `-o` takes.
    pub const ALL: [Field; 17] = [
        Field::Id,
        Field::Name,
        Field::Runtime,
        Field::Pid,
        Field::Command,
        Field::Uptime,
        Field::Pids,
        Field::Mem,
        Field::Cpu,
        Field::Ip,
        Field::Namespaces,
        Field::Image,
        Field::Status,
        Field::Created,
        Field::Ports,
        Field::Pod,
        Field::PodNamespace,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Name => "name",
            Field::Runtime => "runtime",
            Field::Pid => "pid",
            Field::Command => "command",
            Field::Uptime => "uptime",
            Field::Pids => "pids",
            Field::Mem => "mem",
            Field::Cpu => "cpu",
            Field::Ip => "ip",
            Field::Namespaces => "namespaces",
            Field::Image => "image",
            Field::Status => "status",
            Field::Created => "created",
            Field::Ports => "ports",
            Field::Pod => "pod",
            Field::PodNamespace => "pod_namespace",
        }
    }
}

/// The `-o` list (a newtype, so clap takes it as one value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields(pub Vec<Field>);

/// Parse `id,name,pid`: known column names, no repeats.
pub fn parse_fields(s: &str) -> Result<Fields, ParseError> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        let f = Field::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(part) || (part == "memory" && *f == Field::Mem))
            .ok_or_else(|| {
                ParseError::new(format!(
                    "unknown field '{part}' (expected {})",
                    Field::ALL.map(Field::name).join(",")
                ))
            })?;
        if out.contains(&f) {
            return Err(ParseError::new(format!("field '{part}' given twice")));
        }
        out.push(f);
    }
    Ok(Fields(out))
}

/// One `--filter KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    Name(String),
    Runtime(String),
    IdPrefix(String),
    /// A host pid that is an ancestor of (or is) the container's init or launcher.
    Ancestor(i32),
    /// A host pid that belongs to the container.
    Pid(i32),
    /// A namespace inode number the container is in.
    Ns(u64),
    /// The Kubernetes pod's name.
    Pod(String),
    /// The Kubernetes pod's namespace.
    PodNamespace(String),
}

pub fn parse_filter(s: &str) -> Result<Filter, ParseError> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| ParseError::new(format!("'{s}' is not KEY=VALUE")))?;
    if v.is_empty() {
        return Err(ParseError::new(format!("'{s}' has an empty value")));
    }
    let pid = || common::parse::parse_pid(v);
    Ok(match k {
        "name" => Filter::Name(v.to_string()),
        "runtime" => Filter::Runtime(v.to_ascii_lowercase()),
        "id" => Filter::IdPrefix(v.to_ascii_lowercase()),
        "ancestor" => Filter::Ancestor(pid()?),
        "pid" => Filter::Pid(pid()?),
        "pod" => Filter::Pod(v.to_string()),
        "namespace" | "pod_namespace" => Filter::PodNamespace(v.to_string()),
        "ns" => {
            // `4026532123`, or `net:[4026532123]` as readlink shows it
            let digits = v
                .rsplit_once('[')
                .map(|(_, r)| r.trim_end_matches(']'))
                .unwrap_or(v);
            Filter::Ns(
                digits.parse().map_err(|_| {
                    ParseError::new(format!("'{v}' is not a namespace inode number"))
                })?,
            )
        }
        _ => {
            return Err(ParseError::new(format!(
                "unknown filter key '{k}' (expected name, runtime, id, ancestor, pid, ns, pod, namespace)"
            )));
        }
    })
}

impl Filter {
    pub fn matches(&self, c: &Container, snap: &Snapshot) -> bool {
        match self {
            Filter::Name(n) => c.name.as_deref() == Some(n.as_str()),
            Filter::Runtime(r) => c.runtime == *r,
            Filter::IdPrefix(p) => c.id.starts_with(p.as_str()),
            Filter::Pid(p) => c.pids.binary_search(p).is_ok() || c.launcher_pid == Some(*p),
            Filter::Ns(ino) => c.namespaces.values().any(|v| v == ino),
            Filter::Pod(p) => c.records.pod.as_deref() == Some(p.as_str()),
            Filter::PodNamespace(n) => c.records.pod_namespace.as_deref() == Some(n.as_str()),
            Filter::Ancestor(a) => {
                let mut cur = c.pid;
                for _ in 0..4096 {
                    if cur == *a {
                        return true;
                    }
                    // host processes are not read in full by the scan
                    let ppid = match snap.proc(cur) {
                        Some(p) if p.detailed => Some(p.ppid),
                        _ => common::discover::read_proc(cur).map(|p| p.ppid),
                    };
                    match ppid {
                        Some(pp) if pp > 0 && pp != cur => cur = pp,
                        _ => return false,
                    }
                }
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_parse() {
        assert_eq!(
            parse_fields("id,PID").unwrap().0,
            vec![Field::Id, Field::Pid]
        );
        assert!(parse_fields("id,id").is_err());
        assert!(
            parse_fields("id,colour")
                .unwrap_err()
                .to_string()
                .contains("colour")
        );
        assert!(parse_fields("").is_err());
    }

    #[test]
    fn filters_parse() {
        assert_eq!(
            parse_filter("runtime=RUNC").unwrap(),
            Filter::Runtime("runc".into())
        );
        assert_eq!(
            parse_filter("ns=net:[4026531840]").unwrap(),
            Filter::Ns(4026531840)
        );
        assert_eq!(parse_filter("ancestor=12").unwrap(), Filter::Ancestor(12));
        assert_eq!(
            parse_filter("pod=web-0").unwrap(),
            Filter::Pod("web-0".into())
        );
        assert_eq!(
            parse_filter("namespace=prod").unwrap(),
            Filter::PodNamespace("prod".into())
        );
        assert!(parse_filter("ns=prod").is_err());
        assert!(parse_filter("name").is_err());
        assert!(parse_filter("name=").is_err());
        assert!(parse_filter("pid=abc").is_err());
        assert!(
            parse_filter("colour=red")
                .unwrap_err()
                .to_string()
                .contains("colour")
        );
    }
}
