mod cli;
mod cmd;
mod digest;
mod error;
mod extract;
mod import;
mod merge;
mod overlay;
mod platform;
mod registry;
mod store;
mod sys;
mod tarsplit;

fn main() {
    common::run(
        "layermount",
        include_str!("../../../man/layermount.1.in"),
        cmd::dispatch,
    )
}
