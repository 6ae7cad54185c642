mod cli;
mod cmd;
mod error;
mod filter;
mod info;
mod netlink;
mod procfs;

fn main() {
    common::run(
        "ctr-ps",
        include_str!("../../../man/ctr-ps.1.in"),
        cmd::dispatch,
    )
}
