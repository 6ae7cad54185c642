mod cli;
mod error;
mod run;

fn main() {
    common::run("ctr-ps", include_str!("../../../man/ctr-ps.1.in"), run::run)
}
