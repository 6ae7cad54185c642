//! `cgset create` and `cgset set`.

use std::collections::BTreeSet;

use common::undo::Undo;

use crate::cg::{Cg, DEFAULT_V2};
use crate::cli::{CreateArgs, Limits};
use crate::error::Result;
use crate::limits;

pub fn create(cg: &Cg, a: CreateArgs) -> Result<()> {
    create_with(cg, &a.path, &a.limits, a.parent_ok, a.exist_ok, a.leaf)
}

/// Create `path` (v2: enabling the default controllers and those the flags need in every
/// ancestor), then apply the limits; on any failure remove what was made.
pub fn create_with(
    cg: &Cg,
    path: &str,
    l: &Limits,
    parent_ok: bool,
    exist_ok: bool,
    leaf: bool,
) -> Result<()> {
    let mut undo = Undo::new();
    cg.create(path, parent_ok, exist_ok, &mut undo)?;
    let required = limits::flag_controllers(cg, l);
    let mut wanted: BTreeSet<String> = DEFAULT_V2.iter().map(|s| s.to_string()).collect();
    wanted.extend(required.iter().cloned());
    cg.enable_v2(path, &wanted, &required, leaf)?;
    limits::apply(cg, path, l)?;
    undo.disarm();
    Ok(())
}

/// Apply limits to an existing cgroup, all or nothing.
pub fn set(cg: &Cg, path: &str, l: &Limits, leaf: bool) -> Result<()> {
    cg.require(path)?;
    let required = limits::flag_controllers(cg, l);
    cg.enable_v2(path, &required, &required, leaf)?;
    limits::apply(cg, path, l)
}
