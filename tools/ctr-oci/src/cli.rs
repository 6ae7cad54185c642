//! runc's command line: the global options, then a command and its options.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// an OCI runtime with runc's command line, composed from nsenter-rs and cgset
///
/// Reads an OCI bundle (config.json and the root filesystem) and builds the container with
/// nsenter-rs (namespaces, mounts, pivot_root, capabilities, seccomp, pty) and cgset
/// (cgroups). Podman, containerd (and so Kubernetes), and any other runc client can use it.
#[derive(Debug, Parser)]
#[command(
    override_usage = "ctr-oci [GLOBAL OPTIONS] COMMAND [OPTIONS] ID [ARGS]...",
    subcommand_required = true
)]
pub struct Cli {
    /// Where the state of each container is kept (a folder per container)
    #[arg(
        long,
        value_name = "DIR",
        global = true,
        default_value = "/run/ctr-oci",
        env = "CTR_OCI_ROOT"
    )]
    pub root: PathBuf,

    /// Also write errors (and, with --debug, each step) to FILE
    #[arg(long, value_name = "FILE", global = true)]
    pub log: Option<PathBuf>,

    /// The format of --log: text, or json (one object a line, as runc's)
    #[arg(long = "log-format", value_name = "FORMAT", global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log each step (the nsenter-rs and cgset command lines) to --log, else to stderr
    #[arg(long, global = true)]
    pub debug: bool,

    /// Use systemd for cgroups (refused where systemd does not run)
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,

    /// Accepted for runc compatibility (rootless is detected, not chosen)
    #[arg(long, value_name = "true|false|auto", num_args = 0..=1, default_missing_value = "true", global = true, hide = true)]
    pub rootless: Option<String>,

    /// Accepted for runc compatibility (checkpointing is not supported)
    #[arg(long, value_name = "PATH", global = true, hide = true)]
    pub criu: Option<PathBuf>,

    #[command(subcommand)]
    pub cmd: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct CreateOpts {
    /// The bundle: the folder with config.json (default: the current folder)
    #[arg(short = 'b', long, value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
    /// A unix socket that receives the container's pty master (SCM_RIGHTS) when
    /// process.terminal is true
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Write the container process's PID to FILE
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Accepted (a ramdisk root is not supported: pivot_root is always used)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Accepted (no session keyring is made)
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass descriptors 3 to 3+N-1 on to the container process
    #[arg(long = "preserve-fds", value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// The container's ID
    #[arg(value_name = "ID")]
    pub id: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container: everything is built, its process waits before the user's program
    Create(CreateOpts),
    /// Let a created container's process run its program
    Start {
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Create and start a container; without --detach wait for it and delete it
    Run {
        #[command(flatten)]
        opts: CreateOpts,
        /// Return once the container runs
        #[arg(short = 'd', long)]
        detach: bool,
        /// Keep the container's state after it exits (without --detach)
        #[arg(long)]
        keep: bool,
        /// Accepted for runc compatibility
        #[arg(long = "no-subreaper")]
        no_subreaper: bool,
    },
    /// Print the state of a container as the OCI runtime spec's JSON
    State {
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Send a signal (default SIGTERM) to the container's process, or with --all to all of them
    Kill {
        /// Signal every process of the container (its cgroup)
        #[arg(short = 'a', long)]
        all: bool,
        #[arg(value_name = "ID")]
        id: String,
        /// A signal name (TERM, SIGKILL) or number
        #[arg(value_name = "SIGNAL", default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a stopped container (with --force also a running one)
    Delete {
        /// Kill the container first when it runs
        #[arg(short = 'f', long)]
        force: bool,
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Run a process in a running container
    Exec {
        /// A JSON file with the process (the spec's process object)
        #[arg(short = 'p', long, value_name = "FILE")]
        process: Option<PathBuf>,
        /// Give the process a pty
        #[arg(short = 't', long)]
        tty: bool,
        /// A unix socket that receives the pty master (SCM_RIGHTS)
        #[arg(long = "console-socket", value_name = "PATH")]
        console_socket: Option<PathBuf>,
        /// Return once the process runs
        #[arg(short = 'd', long)]
        detach: bool,
        /// Write the process's PID to FILE
        #[arg(long = "pid-file", value_name = "FILE")]
        pid_file: Option<PathBuf>,
        /// Set an environment variable K=V (repeatable)
        #[arg(short = 'e', long = "env", value_name = "K=V")]
        env: Vec<String>,
        /// The working directory inside the container
        #[arg(long, value_name = "DIR")]
        cwd: Option<String>,
        /// UID[:GID] to run as
        #[arg(short = 'u', long, value_name = "UID[:GID]")]
        user: Option<String>,
        /// Additional group IDs (repeatable)
        #[arg(short = 'g', long = "additional-gids", value_name = "GID")]
        additional_gids: Vec<u32>,
        /// Add a capability to the process's bounding, effective and permitted sets (repeatable)
        #[arg(short = 'c', long = "cap", value_name = "CAP")]
        cap: Vec<String>,
        /// Set no_new_privs (the container's setting is kept)
        #[arg(long = "no-new-privs")]
        no_new_privs: bool,
        /// Pass descriptors 3 to 3+N-1 on to the process
        #[arg(long = "preserve-fds", value_name = "N", default_value_t = 0)]
        preserve_fds: u32,
        /// Accepted for runc compatibility
        #[arg(long = "process-label", value_name = "LABEL", hide = true)]
        process_label: Option<String>,
        /// Accepted for runc compatibility
        #[arg(long = "apparmor", value_name = "PROFILE", hide = true)]
        apparmor: Option<String>,
        /// Accepted for runc compatibility
        #[arg(long = "ignore-paused", hide = true)]
        ignore_paused: bool,
        #[arg(value_name = "ID")]
        id: String,
        /// The command and its arguments (without --process)
        #[arg(
            value_name = "COMMAND",
            trailing_var_arg = true,
            allow_hyphen_values = true
        )]
        args: Vec<String>,
    },
    /// List the processes of a container
    Ps {
        #[arg(short = 'f', long, value_enum, default_value_t = Format::Table)]
        format: Format,
        #[arg(value_name = "ID")]
        id: String,
        /// Options for ps(1) (table format)
        #[arg(
            value_name = "PS_ARGS",
            trailing_var_arg = true,
            allow_hyphen_values = true
        )]
        ps_args: Vec<String>,
    },
    /// List the containers under --root
    List {
        #[arg(short = 'f', long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// IDs only
        #[arg(short = 'q', long)]
        quiet: bool,
    },
    /// Freeze every process of a container
    Pause {
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Thaw a paused container
    Resume {
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Change a container's resource limits
    Update {
        /// A JSON file with the spec's linux.resources object ("-": stdin)
        #[arg(short = 'r', long, value_name = "FILE")]
        resources: Option<PathBuf>,
        /// Memory limit in bytes
        #[arg(long, value_name = "BYTES")]
        memory: Option<String>,
        /// Memory plus swap limit in bytes
        #[arg(long = "memory-swap", value_name = "BYTES")]
        memory_swap: Option<String>,
        /// CPU CFS quota in microseconds
        #[arg(long = "cpu-quota", value_name = "US")]
        cpu_quota: Option<i64>,
        /// CPU CFS period in microseconds
        #[arg(long = "cpu-period", value_name = "US")]
        cpu_period: Option<u64>,
        /// CPU shares
        #[arg(long = "cpu-share", alias = "cpu-shares", value_name = "N")]
        cpu_shares: Option<u64>,
        /// CPUs to use
        #[arg(long = "cpuset-cpus", value_name = "LIST")]
        cpuset_cpus: Option<String>,
        /// Memory nodes to use
        #[arg(long = "cpuset-mems", value_name = "LIST")]
        cpuset_mems: Option<String>,
        /// Maximum number of processes
        #[arg(long = "pids-limit", value_name = "N")]
        pids_limit: Option<i64>,
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Print the container's resource usage as runc's events JSON
    Events {
        /// Print the usage once and exit
        #[arg(long)]
        stats: bool,
        /// How often to print the usage (without --stats)
        #[arg(long, value_name = "DURATION", default_value = "5s")]
        interval: humantime::Duration,
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Print what this runtime supports, as the spec's features JSON
    Features,
    /// Write a default config.json into the bundle
    Spec {
        #[arg(short = 'b', long, value_name = "DIR", default_value = ".")]
        bundle: PathBuf,
    },
}

#[cfg(test)]
mod tests {
    #[test]
    fn verify_cli() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
