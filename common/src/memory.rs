//! The resident code of a process that will wait for a long time (nsenter-rs waiting for a
//! container's first process, ctr-state's log relay).
//!
//! A static binary's start touches most of its code, and the kernel maps pages around each
//! fault: after startup a tool has 1.2 to 1.8 MiB of its executable in its page tables,
//! counted in its RSS (and in its OOM score) although those pages are the page cache's,
//! shared with every other copy. One such process per container adds up in `ps` and `top`.

use std::fs;

/// Drop the mappings' pages of this process's code from its page tables (MADV_DONTNEED on
/// each file-backed `r-xp` region: code is never written, so nothing is lost; the pages stay
/// in the page cache and fault back in as they run again). Best effort: errors are ignored.
pub fn drop_code_pages() {
    let Ok(maps) = fs::read_to_string("/proc/self/maps") else {
        return;
    };
    for line in maps.lines() {
        // "start-end perms offset dev inode path"
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms)) = (f.next(), f.next()) else {
            continue;
        };
        let path = f.nth(3);
        if perms != "r-xp" || !path.is_some_and(|p| p.starts_with('/')) {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        // SAFETY: the range is a whole mapping of our own, read from /proc/self/maps;
        // MADV_DONTNEED on a read-only, executable file mapping only drops page-table entries
        // (the next access faults the same file page back in), so no memory we use changes.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}
