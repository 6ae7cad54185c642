//! `cgset kill PATH [--signal SIG]`

use crate::cg::Cg;
use crate::cli::KillArgs;
use crate::error::Result;

pub fn run(cg: &Cg, a: KillArgs) -> Result<()> {
    cg.kill(&a.path, a.signal, a.wait)
}
