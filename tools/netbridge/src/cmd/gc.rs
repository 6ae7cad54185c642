use std::path::Path;

use crate::cli::GcArgs;
use crate::error::Error;
use crate::model::LeaseJson;
use crate::ops;
use crate::store::Store;

/// Prints each released lease (`NETWORK IP`), or them as JSON.
pub fn run(a: GcArgs, root: &Path) -> Result<(), Error> {
    let store = Store::open(root)?;
    let released = ops::gc(&store, a.bridge.as_deref())?;
    drop(store);
    if a.json {
        let rows: Vec<LeaseJson> = released
            .iter()
            .map(|(n, l)| LeaseJson::of(n, l, false))
            .collect();
        return common::output::emit_json(&rows).map_err(super::out);
    }
    common::output::emit_lines(released.iter().map(|(n, l)| format!("{n} {}", l.ip)))
        .map_err(super::out)
}
