//! `ctr-state claim DIR`: mkdir(2), which succeeds for one caller only.

use std::fs;
use std::io;

use crate::cli::ClaimArgs;
use crate::error::Error;

pub fn run(a: &ClaimArgs) -> Result<(), Error> {
    if a.parents
        && let Some(parent) = a.dir.parent().filter(|p| !p.as_os_str().is_empty())
    {
        fs::create_dir_all(parent).map_err(|e| Error::Create(parent.to_path_buf(), e))?;
    }
    fs::create_dir(&a.dir).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists => Error::Exists(a.dir.clone()),
        _ => Error::Create(a.dir.clone(), e),
    })
}
