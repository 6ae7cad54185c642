//! `layermount rm IMAGE...` and `layermount gc`

use std::collections::HashSet;

use crate::cli::RmArgs;
use crate::error::Error;
use crate::store::{Store, list_dir, normalize_name};

pub fn run(store: &Store, a: RmArgs) -> Result<(), Error> {
    let _lock = store.lock_exclusive()?;
    let _records = store.lock_records()?;
    for arg in &a.images {
        let img = store.resolve_image(arg)?;
        let mut refs = store.refs()?;
        let names = store.names_of(&refs, &img.id);
        // a name of an image that has other names: just untag it
        if let Ok(n) = normalize_name(arg) {
            if names.contains(&n) && names.len() > 1 {
                refs.remove(&n);
                store.write_refs(&refs)?;
                println!("untagged: {n}");
                continue;
            }
        }
        let users: Vec<String> = store
            .containers()?
            .into_iter()
            .filter(|c| c.image == img.id)
            .map(|c| c.id)
            .collect();
        if !users.is_empty() && !a.force {
            return Err(Error::msg(format!(
                "image {arg} is used by container {} (remove it first, or use --force)",
                users.join(", ")
            )));
        }
        refs.retain(|_, v| *v != img.id);
        store.write_refs(&refs)?;
        store.remove_image(&img.id)?;
        println!("{}", img.id);
    }
    Ok(())
}

pub fn gc(store: &Store) -> Result<(), Error> {
    // every writer holds the store lock shared: nothing is in flight while we hold it exclusive
    let _lock = store.lock_exclusive()?;
    // first what killed runs left in tmp/ (half-extracted layers, half-removed ones): one that
    // cannot be removed is reported and skipped, so it never keeps gc from the rest
    for name in list_dir(&store.root.join("tmp"))? {
        let p = store.root.join("tmp").join(&name);
        let gone = match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&p),
            Ok(_) => std::fs::remove_file(&p),
            Err(e) => Err(e),
        };
        match gone {
            Ok(()) => common::debug!("removed leftover {}", p.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => eprintln!("layermount: warning: cannot remove {}: {e}", p.display()),
        }
    }
    let mut keep: HashSet<String> = HashSet::new();
    for i in store.images()? {
        keep.extend(i.layers);
    }
    for c in store.containers()? {
        keep.extend(c.layers);
    }
    for hex in list_dir(&store.root.join("layer"))? {
        let d = format!("sha256:{hex}");
        if !keep.contains(&d) {
            store.remove_layer(&d)?;
            println!("{d}");
        }
    }
    for name in list_dir(&store.root.join("l"))? {
        let p = store.root.join("l").join(&name);
        if !p.exists() {
            let _ = std::fs::remove_file(&p);
        }
    }
    for name in list_dir(&store.root.join("locks"))? {
        let _ = std::fs::remove_file(store.root.join("locks").join(name));
    }
    Ok(())
}
