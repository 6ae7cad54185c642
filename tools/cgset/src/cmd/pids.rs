//! `cgset pids PATH [-r]`: one PID a line, for pipes.

use crate::cg::Cg;
use crate::cli::PidsArgs;
use crate::error::Result;

pub fn run(cg: &Cg, a: PidsArgs) -> Result<()> {
    cg.require(&a.path)?;
    common::output::emit_lines(cg.pids(&a.path, a.recursive))?;
    Ok(())
}
