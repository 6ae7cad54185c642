//! `ctr-state rename DIR NEW`: give the container of state folder DIR the name NEW.
//!
//! The folder is moved with renameat2(RENAME_NOREPLACE), so a name in use is never taken
//! over, even by a concurrent claim; its log folder and boot record (`--with ROOT`: ROOT/OLD) follow. The
//! files of the folder that name paths under the old folder or log folder (the undo log,
//! the recorded start command) are rewritten to the new ones, `config`'s `name=` line is
//! updated, and `key` records the name the container's other resources (its cgroup,
//! writable layer and network lease) were made under, which they keep. Mounts inside the
//! folder move with it. A failure after the move puts everything back.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{CWD, RenameFlags, renameat_with};

use crate::cli::RenameArgs;
use crate::error::Error;

/// Files larger than this are not records of the launcher's (never rewritten).
const MAX_RECORD: u64 = 1 << 20;

pub fn run(a: &RenameArgs) -> Result<(), Error> {
    if !valid_name(&a.new) {
        return Err(Error::Usage(format!(
            "invalid container name '{}' (want [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 128)",
            a.new
        )));
    }
    let old_dir = a.dir.clone();
    let old = old_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::NotDir(old_dir.clone()))?;
    if !old_dir.is_dir() {
        return Err(Error::NotDir(old_dir));
    }
    if old == a.new {
        return Err(Error::Usage(format!(
            "the container is already named {old}"
        )));
    }
    let new_dir = old_dir.with_file_name(&a.new);
    move_noreplace(&old_dir, &new_dir).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists => Error::NameInUse(a.new.clone()),
        _ => Error::Rename(old_dir.clone(), e),
    })?;
    // the folders that go with it: moved one by one, all put back on a failure
    let mut moved: Vec<(PathBuf, PathBuf)> = Vec::new();
    for root in &a.with {
        let (from, to) = (root.join(&old), root.join(&a.new));
        if !from.is_dir() {
            continue;
        }
        if let Err(e) = move_noreplace(&from, &to) {
            for (f, t) in moved.iter().rev() {
                let _ = move_noreplace(t, f);
            }
            let _ = move_noreplace(&new_dir, &old_dir);
            return Err(match e.kind() {
                io::ErrorKind::AlreadyExists => {
                    Error::NameInUse(format!("{} ({} exists)", a.new, to.display()))
                }
                _ => Error::Rename(from, e),
            });
        }
        moved.push((from, to));
    }
    let mut swaps = vec![(path_str(&old_dir), path_str(&new_dir))];
    for (f, t) in &moved {
        swaps.push((path_str(f), path_str(t)));
    }
    if let Err(e) = rewrite(&new_dir, &old, &a.new, &swaps) {
        let _ = rewrite(&new_dir, &a.new, &old, &reversed(&swaps));
        for (f, t) in moved.iter().rev() {
            let _ = move_noreplace(t, f);
        }
        let _ = move_noreplace(&new_dir, &old_dir);
        return Err(e);
    }
    Ok(())
}

fn reversed(swaps: &[(String, String)]) -> Vec<(String, String)> {
    swaps.iter().map(|(a, b)| (b.clone(), a.clone())).collect()
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn move_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE).map_err(io::Error::from)
}

/// ctrkit's container name rule, as lib.sh's valid_name.
pub fn valid_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// The records of the folder after the move: every old path swapped for the new one,
/// `config`'s name, and `key` (written once: the first name).
fn rewrite(dir: &Path, old: &str, new: &str, swaps: &[(String, String)]) -> Result<(), Error> {
    let rd = fs::read_dir(dir).map_err(|e| Error::Rename(dir.to_path_buf(), e))?;
    for e in rd.flatten() {
        let Ok(meta) = fs::symlink_metadata(e.path()) else {
            continue;
        };
        if !meta.is_file() || meta.len() > MAX_RECORD {
            continue;
        }
        let p = e.path();
        let Ok(text) = fs::read_to_string(&p) else {
            continue;
        };
        let mut out = text.clone();
        for (from, to) in swaps {
            out = swap_paths(&out, from, to);
        }
        if e.file_name() == "config" {
            out = out
                .lines()
                .map(|l| {
                    if l == format!("name={old}") {
                        format!("name={new}\n")
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
        }
        if out != text {
            write_atomic(&p, &out, meta.permissions().mode())?;
        }
    }
    let key = dir.join("key");
    if !key.exists() {
        write_atomic(&key, &format!("{old}\n"), 0o600)?;
    }
    Ok(())
}

/// `from` replaced by `to` where it is a whole path or a path's beginning: followed by
/// `/`, a tab, a newline, a quote, a space or the end.
fn swap_paths(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(from) {
        let after = &rest[i + from.len()..];
        let before_ok = i == 0 || !is_path_char(rest.as_bytes()[i - 1]);
        let after_ok = after
            .bytes()
            .next()
            .is_none_or(|c| matches!(c, b'/' | b'\t' | b'\n' | b'\'' | b'"' | b' '));
        out.push_str(&rest[..i]);
        out.push_str(if before_ok && after_ok { to } else { from });
        rest = after;
    }
    out.push_str(rest);
    out
}

fn is_path_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'/' | b'_' | b'.' | b'-')
}

fn write_atomic(p: &Path, text: &str, mode: u32) -> Result<(), Error> {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp: PathBuf = p.with_file_name(format!(".{name}.rename"));
    let res = fs::write(&tmp, text)
        .and_then(|()| fs::set_permissions(&tmp, fs::Permissions::from_mode(mode & 0o7777)))
        .and_then(|()| fs::rename(&tmp, p));
    if let Err(e) = res {
        let _ = fs::remove_file(&tmp);
        return Err(Error::Write(p.to_path_buf(), e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_swap_only_whole() {
        let t = "pending\tnet_down\t/s/c/web\tweb\tbr0\npending\tnsenter-rs\t--unpin\t/s/c/web/ns\nx /s/c/webby '/s/c/web'\n";
        assert_eq!(
            swap_paths(t, "/s/c/web", "/s/c/db"),
            "pending\tnet_down\t/s/c/db\tweb\tbr0\npending\tnsenter-rs\t--unpin\t/s/c/db/ns\nx /s/c/webby '/s/c/db'\n"
        );
        assert_eq!(swap_paths("a/s/c/web/x", "/s/c/web", "/n"), "a/s/c/web/x");
    }

    #[test]
    fn names() {
        assert!(valid_name("web-1.a_b"));
        assert!(!valid_name("-web"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(""));
        assert!(!valid_name(&"a".repeat(129)));
    }

    #[test]
    fn rename_moves_folder_and_logs_and_rewrites() {
        let tmp = tempfile::tempdir().unwrap();
        let c = tmp.path().join("containers");
        let l = tmp.path().join("logs");
        fs::create_dir_all(c.join("web")).unwrap();
        fs::create_dir_all(c.join("taken")).unwrap();
        fs::create_dir_all(l.join("web")).unwrap();
        let old = c.join("web");
        let undo = format!(
            "pending\tctr-state\trm\t{}\nok\npending\tnet_down\t{}\tweb\tbr\n",
            l.join("web").display(),
            old.display()
        );
        fs::write(old.join("undo"), &undo).unwrap();
        fs::write(old.join("config"), "name=web\nimage=busybox\n").unwrap();
        let taken = RenameArgs {
            dir: old.clone(),
            new: "taken".into(),
            with: vec![l.clone()],
        };
        assert!(matches!(run(&taken), Err(Error::NameInUse(_))));
        assert_eq!(fs::read_to_string(old.join("undo")).unwrap(), undo);
        let a = RenameArgs {
            dir: old.clone(),
            new: "db".into(),
            with: vec![l.clone()],
        };
        run(&a).unwrap();
        assert!(!old.exists() && !l.join("web").exists());
        assert!(l.join("db").is_dir());
        let n = c.join("db");
        assert_eq!(
            fs::read_to_string(n.join("undo")).unwrap(),
            format!(
                "pending\tctr-state\trm\t{}\nok\npending\tnet_down\t{}\tweb\tbr\n",
                l.join("db").display(),
                n.display()
            )
        );
        assert_eq!(
            fs::read_to_string(n.join("config")).unwrap(),
            "name=db\nimage=busybox\n"
        );
        assert_eq!(fs::read_to_string(n.join("key")).unwrap(), "web\n");
        // renamed again: the key stays the first name
        run(&RenameArgs {
            dir: n.clone(),
            new: "web2".into(),
            with: vec![l.clone()],
        })
        .unwrap();
        assert_eq!(fs::read_to_string(c.join("web2/key")).unwrap(), "web\n");
    }
}
