use std::path::Path;

use crate::cli::DetachArgs;
use crate::error::Error;
use crate::netns;
use crate::ops::{self, Which};
use crate::store::Store;

pub fn run(a: DetachArgs, root: &Path) -> Result<(), Error> {
    let which = match (&a.netns, &a.name) {
        (Some(ns), _) => {
            let path = netns::netns_path(ns);
            let inode = netns::inode_of(&path);
            Which::Netns {
                path: path.display().to_string(),
                inode,
            }
        }
        (None, Some(n)) => Which::Name(n.clone()),
        (None, None) => {
            return Err(Error::Usage(
                "detach needs NETNS or --name CONTAINER".into(),
            ));
        }
    };
    let store = Store::open(root)?;
    ops::detach(&store, &a.bridge, &which).map(|_| ())
}
