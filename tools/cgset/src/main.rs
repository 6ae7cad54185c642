mod cg;
mod cli;
mod cmd;
mod devices;
mod error;
mod limits;

fn main() {
    common::run(
        "cgset",
        include_str!("../../../man/cgset.1.in"),
        cmd::dispatch,
    )
}
