mod cli;
mod cmd;
mod error;
mod spec;
mod state;

fn main() {
    common::run(
        "ctr-oci",
        include_str!("../../../man/ctr-oci.1.in"),
        cmd::dispatch,
    )
}
