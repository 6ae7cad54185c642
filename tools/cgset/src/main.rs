mod cli;
mod error;
mod run;

fn main() {
    common::run("cgset", include_str!("../../../man/cgset.1.in"), run::run)
}
