mod cli;
mod cmd;
mod error;

fn main() {
    common::run(
        "ctr-state",
        include_str!("../../../man/ctr-state.1.in"),
        cmd::dispatch,
    )
}
