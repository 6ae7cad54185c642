mod cli;
mod error;
mod run;

fn main() {
    common::run("nsenter-rs", include_str!("../../../man/nsenter-rs.1.in"), run::run)
}
