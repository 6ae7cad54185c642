//! `cgset attach PATH PID...`

use crate::cg::Cg;
use crate::cli::AttachArgs;
use crate::error::Result;

pub fn run(cg: &Cg, a: AttachArgs) -> Result<()> {
    cg.require(&a.path)?;
    for p in a.pids {
        cg.attach(&a.path, &p.to_string())?;
    }
    Ok(())
}
