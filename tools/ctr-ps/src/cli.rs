//! The command line: the list (no subcommand) and its flags, and the subcommands.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use common::ns::NsKind;
use common::parse::parse_duration;

use crate::filter::{Fields, Filter, parse_fields, parse_filter};

/// list and inspect the containers of any runtime by namespaces and cgroups
///
/// Reads /proc, cgroupfs and the runtimes' own files only: no daemon, no runtime's
/// cooperation. A container is a group of processes sharing a set of namespaces that
/// differs from the host's (pid 1's); it is found from ctrkit's state dir, its cgroup path
/// (docker, podman, containerd, cri-o, kubernetes, lxc, nspawn), runc/crun/containerd
/// state, or else gets a stable id made from its namespace ids (runtime `unshare`); its
/// name, image, status and Kubernetes pod come from its runtime's records (Docker's
/// config.v2.json, containers/storage, the OCI bundle's annotations). Without a
/// subcommand: one row per container.
#[derive(Debug, Parser)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(flatten)]
    pub list: ListArgs,
    #[command(flatten)]
    pub dirs: common::state::Dirs,
    #[command(flatten)]
    pub sources: common::discover::Sources,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ListArgs {
    /// Print container IDs only, one a line
    #[arg(short, long)]
    pub quiet: bool,
    /// Columns to show, comma separated: id,name,runtime,pid,command,uptime,pids,mem,cpu,ip,namespaces
    /// (the default), and image,status,created,ports,pod,pod_namespace
    #[arg(short = 'o', long = "output", value_name = "FIELDS", value_parser = parse_fields)]
    pub output: Option<Fields>,
    /// Keep containers matching KEY=VALUE (repeatable, all must match): name=, runtime=,
    /// id= (prefix), ancestor= (host PID above the init), pid= (host PID inside), ns= (namespace
    /// inode), pod= and namespace= (Kubernetes pod and its namespace)
    #[arg(short, long, value_name = "KEY=VALUE", value_parser = parse_filter)]
    pub filter: Vec<Filter>,
    /// Print one JSON array of flat objects
    #[arg(long, conflicts_with_all = ["jsonl", "quiet"])]
    pub json: bool,
    /// Print one JSON object a line, per container
    #[arg(long, conflicts_with = "quiet")]
    pub jsonl: bool,
    /// Leave out the header line
    #[arg(long)]
    pub no_headers: bool,
    /// Show full IDs and commands
    #[arg(long)]
    pub no_trunc: bool,
    /// Print the host PID of a container's init (by name, ID or unique ID prefix) and nothing else
    #[arg(long, value_name = "NAME|ID", conflicts_with_all = ["quiet", "output", "filter", "json", "jsonl"])]
    pub pid: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Tell which container owns each host PID, and the PID as seen inside
    Which(WhichArgs),
    /// List the processes of one container (or of all, grouped)
    Procs(ProcsArgs),
    /// List namespaces like lsns, with the container that owns each
    Ns(NsArgs),
    /// Everything known about one container: namespaces, cgroup, mounts, addresses, capabilities
    Inspect(InspectArgs),
    /// Refreshing CPU% and memory per container, like docker stats
    Top(TopArgs),
}

/// Output format flags shared by the subcommands.
#[derive(Debug, Clone, Default, Args)]
pub struct Format {
    /// Print one JSON document
    #[arg(long)]
    pub json: bool,
    /// Leave out the header line
    #[arg(long)]
    pub no_headers: bool,
    /// Show full IDs and commands
    #[arg(long)]
    pub no_trunc: bool,
}

#[derive(Debug, Args)]
pub struct WhichArgs {
    /// Host PIDs to look up
    #[arg(value_name = "PID", required = true, value_parser = common::parse::parse_pid)]
    pub pids: Vec<i32>,
    #[command(flatten)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ProcsArgs {
    /// The container (name, ID or unique ID prefix); every container when left out
    #[arg(value_name = "ID")]
    pub container: Option<String>,
    /// Draw the process tree in the COMMAND column
    #[arg(long)]
    pub tree: bool,
    #[command(flatten)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct NsArgs {
    /// Only namespaces of this type
    #[arg(short, long = "type", value_name = "TYPE")]
    pub kind: Option<NsKind>,
    #[command(flatten)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The container (name, ID or unique ID prefix)
    #[arg(value_name = "ID")]
    pub container: String,
    /// Print one JSON object (without it: the same data as `key = value` lines)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    /// Only this container (name, ID or unique ID prefix)
    #[arg(value_name = "ID")]
    pub container: Option<String>,
    /// Time between samples: 500ms, 1s, 2s
    #[arg(short, long, value_name = "DURATION", default_value = "1s", value_parser = parse_interval)]
    pub interval: Duration,
    /// Stop after N samples (default: until interrupted)
    #[arg(short = 'n', long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// One JSON object a line, per container per sample
    #[arg(long)]
    pub jsonl: bool,
    /// Leave out the header lines
    #[arg(long)]
    pub no_headers: bool,
}

fn parse_interval(s: &str) -> Result<Duration, common::parse::ParseError> {
    let d = parse_duration(s)?;
    if d < Duration::from_millis(10) {
        return Err(common::parse::ParseError::new(format!(
            "'{s}' is too short (at least 10ms)"
        )));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn list_flags_conflict_with_subcommands() {
        assert!(Cli::try_parse_from(["ctr-ps", "-q", "ns"]).is_err());
        assert!(Cli::try_parse_from(["ctr-ps", "--json", "--jsonl"]).is_err());
        let c =
            Cli::try_parse_from(["ctr-ps", "--filter", "runtime=runc", "-o", "id,pid"]).unwrap();
        assert_eq!(c.list.filter.len(), 1);
        assert!(Cli::try_parse_from(["ctr-ps", "--filter", "colour=red"]).is_err());
        assert!(Cli::try_parse_from(["ctr-ps", "top", "--interval", "5"]).is_err());
    }
}
