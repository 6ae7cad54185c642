//! `layermount diff ID`: A/C/D like `docker diff`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::lower_dirs;
use crate::cli::{DiffArgs, Driver};
use crate::error::{Error, IoContext};
use crate::merge::{Root, is_whiteout, walk_merged};
use crate::store::Store;

#[derive(Serialize, Debug, PartialEq)]
pub struct Change {
    pub kind: char,
    pub path: String,
}

pub fn run(store: &Store, a: DiffArgs) -> Result<(), Error> {
    let c = store.read_container(&a.id)?;
    if c.driver != Driver::Overlay {
        return Err(Error::msg(format!(
            "container {}: diff needs the overlay driver",
            a.id
        )));
    }
    let lowers = lower_dirs(store, &c.layers, &c.image)?;
    let frozen = super::freeze_container(store, &a.id)?;
    let changes = changes(&store.container_dir(&a.id).join("upper"), &lowers)?;
    drop(frozen);
    if a.json {
        return common::output::emit_json(&changes).ctx("write", "stdout");
    }
    common::output::emit_lines(changes.iter().map(|c| format!("{} {}", c.kind, c.path)))
        .ctx("write", "stdout")
}

/// What `upper` changes over the merged `lowers`.
pub fn changes(upper: &Path, lowers: &[PathBuf]) -> Result<Vec<Change>, Error> {
    let mut lower = HashSet::new();
    walk_merged(lowers, &mut |rel, _, _| {
        lower.insert(rel.to_path_buf());
        Ok(())
    })?;
    let mut out = Vec::new();
    walk(&Root::open(upper)?, Path::new(""), &lower, &mut out)?;
    Ok(out)
}

/// The upper layer is read through [`Root`]: a folder a running container swaps for a
/// symlink is listed as that symlink, never followed into the host.
fn walk(
    upper: &Root,
    rel: &Path,
    lower: &HashSet<PathBuf>,
    out: &mut Vec<Change>,
) -> Result<(), Error> {
    let names = upper.names(rel)?;
    let abs = |r: &Path| format!("/{}", r.display());
    for name in &names {
        let r = rel.join(name);
        let m = match upper.lstat(&r) {
            Ok(m) => m,
            // removed since the folder was listed
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("stat", upper.show(&r), e)),
        };
        if is_whiteout(&m) {
            out.push(Change {
                kind: 'D',
                path: abs(&r),
            });
            continue;
        }
        let existed = lower.contains(&r);
        out.push(Change {
            kind: if existed { 'C' } else { 'A' },
            path: abs(&r),
        });
        if m.is_dir() {
            if existed && upper.is_opaque(&r) {
                // everything the lower layers had here is gone, except what was re-created
                let mut hidden: Vec<&PathBuf> = lower
                    .iter()
                    .filter(|l| l.parent() == Some(r.as_path()) && upper.lstat(l).is_err())
                    .collect();
                hidden.sort();
                out.extend(hidden.into_iter().map(|h| Change {
                    kind: 'D',
                    path: abs(h),
                }));
            }
            walk(upper, &r, lower, out)?;
        }
    }
    Ok(())
}
