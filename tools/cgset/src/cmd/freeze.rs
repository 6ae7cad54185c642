//! `cgset freeze PATH` / `cgset thaw PATH` (v1 freezer, else v2 cgroup.freeze).

use crate::cg::Cg;
use crate::cli::PathArg;
use crate::error::Result;

pub fn run(cg: &Cg, a: PathArg, on: bool) -> Result<()> {
    cg.freeze(&a.path, on, a.wait)
}
