mod cli;
mod error;
mod run;

fn main() {
    common::run("netbridge", include_str!("../../../man/netbridge.1.in"), run::run)
}
