//! `layermount export ID|IMAGE [-o FILE]`

use super::{container_stack, lower_dirs, with_output};
use crate::cli::ExportArgs;
use crate::error::Error;
use crate::merge::write_merged_tar;
use crate::store::Store;

pub fn run(store: &Store, a: ExportArgs) -> Result<(), Error> {
    let mut frozen = None;
    let stack = match common::parse::parse_container_name(&a.what)
        .ok()
        .and_then(|id| store.read_container(&id).ok())
    {
        Some(c) => {
            let stack = container_stack(store, &c)?;
            frozen = super::freeze_container(store, &c.id)?;
            stack
        }
        None => {
            let img = store.resolve_image(&a.what).map_err(|e| match e {
                Error::NoImage(_) => Error::msg(format!("no such container or image: {}", a.what)),
                e => e,
            })?;
            lower_dirs(store, &img.layers, &img.id)?
        }
    };
    let res = with_output(a.output.as_deref(), |w| {
        write_merged_tar(&stack, w).map(drop)
    });
    drop(frozen);
    res
}
