use std::path::Path;

use crate::cli::RmArgs;
use crate::error::Error;
use crate::ops;
use crate::store::Store;

pub fn run(a: RmArgs, root: &Path) -> Result<(), Error> {
    let store = Store::open(root)?;
    ops::remove(&store, &a.bridge, a.force)
}
