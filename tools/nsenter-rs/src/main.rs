mod capset;
mod cgroup;
mod cli;
mod container;
mod create;
mod debug;
mod enter;
mod error;
mod mounts;
mod oci;
mod pin;
mod process;
mod pty;
mod resolve;
mod run;
mod seccomp;
mod settings;
mod template;
mod userns;

fn main() {
    common::run(
        "nsenter-rs",
        include_str!("../../../man/nsenter-rs.1.in"),
        run::run,
    )
}
