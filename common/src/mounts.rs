//! The mounts of a mount namespace, from `/proc/PID/mountinfo` (ctr-ps shows them).
//!
//! Parsed here, not with procfs: procfs 0.18's `MountInfo` keeps the kernel's octal escapes
//! in the mount point (`/mnt\040x`), holds the options in a `HashMap` (their order lost)
//! and turns a `none` source into nothing; ctr-ps prints all three as the kernel wrote them.

use serde::Serialize;

/// One mount of a process's mount namespace (`/proc/PID/mountinfo`).
#[derive(Debug, Clone, Serialize)]
pub struct Mount {
    pub mount_point: String,
    pub fs_type: String,
    pub source: String,
    pub options: String,
    /// The root of the mount within its filesystem (bind mounts).
    pub root: String,
}

fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = b[i + 1..i + 4]
                .iter()
                .fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
            out.push(v as u8);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            Some(Mount {
                root: unescape_octal(f.get(3)?),
                mount_point: unescape_octal(f.get(4)?),
                options: f.get(5)?.to_string(),
                fs_type: r.first()?.to_string(),
                source: unescape_octal(r.get(1).copied().unwrap_or("")),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines() {
        let m = parse_mountinfo(
            "36 35 98:0 /mnt1 /mnt\\040x rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n",
        );
        assert_eq!(m[0].mount_point, "/mnt x");
        assert_eq!(m[0].fs_type, "ext3");
        assert_eq!(m[0].source, "/dev/root");
    }
}
