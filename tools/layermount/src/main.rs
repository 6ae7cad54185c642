mod cli;
mod error;
mod run;

fn main() {
    common::run("layermount", include_str!("../../../man/layermount.1.in"), run::run)
}
