//! `ctr-state log FILE`: copy standard input to FILE, rotating it by size, as Docker's
//! json-file driver does with `max-size` and `max-file`: once FILE has reached the size it
//! becomes FILE.1 (FILE.1 becomes FILE.2, ...) and the oldest beyond the count is removed,
//! so a chatty container never holds more than about COUNT x SIZE of the disk. Files end
//! at line ends, however the reads split the stream.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::cli::LogArgs;
use crate::error::Error;

/// Bytes read at a time. One relay runs beside every detached container for its whole life:
/// its buffers (this, and twice this for the stamped copy) are most of its own memory, so
/// they stay small (64 KiB ones made it 284 KiB RssAnon, 16 KiB ones ~140 KiB).
const CHUNK: usize = 16 * 1024;

pub fn run(a: &LogArgs) -> Result<(), Error> {
    let max_size = a.max_size.bytes();
    if let Some(parent) = a.file.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|e| Error::Create(parent.to_path_buf(), e))?;
    }
    let mut log = Log::open(&a.file, a.max_file)?;
    // (we relay as long as the container lives: our code out of our resident set)
    common::memory::drop_code_pages();
    if a.timestamps {
        copy(Stamped::new(io::stdin().lock()), &mut log, max_size)
    } else {
        copy(io::stdin().lock(), &mut log, max_size)
    }
}

/// `--timestamps`: each line as read, behind the time it arrived and a space
/// (`2026-12-04T15:01:02.123456789Z text`, UTC, always nine digits: such stamps sort as
/// text, which is how ctr-logs --since and --until pick lines).
struct Stamped<R> {
    inner: R,
    raw: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    at_line_start: bool,
}

impl<R: Read> Stamped<R> {
    fn new(inner: R) -> Stamped<R> {
        Stamped {
            inner,
            raw: vec![0; CHUNK],
            out: Vec::with_capacity(2 * CHUNK),
            pos: 0,
            at_line_start: true,
        }
    }
}

impl<R: Read> Read for Stamped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.out.len() {
            self.out.clear();
            self.pos = 0;
            let n = self.inner.read(&mut self.raw)?;
            if n == 0 {
                return Ok(0);
            }
            let stamp = format!(
                "{} ",
                humantime::format_rfc3339_nanos(std::time::SystemTime::now())
            );
            for &b in &self.raw[..n] {
                if self.at_line_start {
                    self.out.extend_from_slice(stamp.as_bytes());
                }
                self.out.push(b);
                self.at_line_start = b == b'\n';
            }
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Copy `input` to the log, rotating once the file has reached `max_size`. Rotation waits
/// for the end of the line being written, wherever the reads happen to split it, so every
/// file holds whole lines; only a single line longer than the size itself is cut.
fn copy(mut input: impl Read, log: &mut Log, max_size: Option<u64>) -> Result<(), Error> {
    let mut buf = vec![0u8; CHUNK];
    // the last byte written was not a line end: the line goes on in this file
    let mut mid_line = false;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::Read(e)),
        };
        let mut data = &buf[..n];
        while !data.is_empty() {
            let Some(max) = max_size else {
                log.write(data)?;
                break;
            };
            let room = max.saturating_sub(log.size) as usize;
            let take = if mid_line {
                // finish the line, but cut one that outgrows a whole file
                let end = data
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(data.len(), |i| i + 1);
                let cap = (2 * max).saturating_sub(log.size).max(1);
                end.min(usize::try_from(cap).unwrap_or(usize::MAX))
            } else if data.len() <= room {
                data.len()
            } else {
                // cut at the last line end that fits; a line that does not fit starts the
                // next file, unless the file is empty and the line alone is too long
                match data[..room].iter().rposition(|b| *b == b'\n') {
                    Some(i) => i + 1,
                    None if log.size == 0 => room.max(1),
                    None => 0,
                }
            };
            if take > 0 {
                log.write(&data[..take])?;
                mid_line = data[take - 1] != b'\n';
                data = &data[take..];
            }
            let long_line = mid_line && log.size >= 2 * max;
            if (log.size >= max && !mid_line) || long_line || (take == 0 && log.size > 0) {
                log.rotate()?;
                mid_line = false;
            }
        }
    }
}

/// The current file, its size, and how many files to keep in all. The files are reached
/// through the folder's descriptor (`/proc/self/fd/N/NAME`), so that rotation follows the
/// folder when it is moved meanwhile (ctr-rename moves a running container's logs).
struct Log {
    /// FILE as given (for messages)
    path: PathBuf,
    /// FILE through the folder's descriptor
    at: PathBuf,
    /// the folder, held open (O_PATH)
    dir: std::sync::Arc<File>,
    file: File,
    size: u64,
    keep: u32,
}

impl Log {
    fn open(path: &Path, keep: u32) -> Result<Log, Error> {
        let parent = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(p) => p,
            None => Path::new("."),
        };
        let dir = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
            .open(parent)
            .map_err(|e| Error::Create(path.to_path_buf(), e))?;
        Log::open_in(path, std::sync::Arc::new(dir), keep)
    }

    fn open_in(path: &Path, dir: std::sync::Arc<File>, keep: u32) -> Result<Log, Error> {
        use std::os::fd::AsRawFd;
        let name = path.file_name().unwrap_or(path.as_os_str());
        let at = Path::new(&format!("/proc/self/fd/{}", dir.as_raw_fd())).join(name);
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&at)
            .map_err(|e| Error::Create(path.to_path_buf(), e))?;
        let size = file
            .metadata()
            .map_err(|e| Error::Write(path.to_path_buf(), e))?
            .len();
        Ok(Log {
            path: path.to_path_buf(),
            at,
            dir,
            file,
            size,
            keep,
        })
    }

    fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        self.file
            .write_all(data)
            .map_err(|e| Error::Write(self.path.clone(), e))?;
        self.size += data.len() as u64;
        Ok(())
    }

    /// FILE.(k) -> FILE.(k+1) from the oldest kept down, FILE -> FILE.1, a new FILE; with
    /// one file to keep, FILE starts again empty.
    fn rotate(&mut self) -> Result<(), Error> {
        if self.keep <= 1 {
            self.file
                .set_len(0)
                .map_err(|e| Error::Write(self.path.clone(), e))?;
            self.size = 0;
            return Ok(());
        }
        let numbered = |k: u32| {
            let mut p = self.at.clone().into_os_string();
            p.push(format!(".{k}"));
            PathBuf::from(p)
        };
        for k in (1..self.keep - 1).rev() {
            match fs::rename(numbered(k), numbered(k + 1)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::Write(self.path.clone(), e)),
            }
        }
        fs::rename(&self.at, numbered(1)).map_err(|e| Error::Write(self.path.clone(), e))?;
        *self = Log::open_in(&self.path, self.dir.clone(), self.keep)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path) -> Vec<(String, u64)> {
        let mut v: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().unwrap().len(),
                )
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn rotation_keeps_count_files_and_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut log = Log::open(&path, 3).unwrap();
        for i in 0..10 {
            log.write(format!("line {i}\n").as_bytes()).unwrap();
            if log.size >= 14 {
                log.rotate().unwrap();
            }
        }
        let names: Vec<String> = files(dir.path()).into_iter().map(|f| f.0).collect();
        assert_eq!(names, ["log", "log.1", "log.2"]);
        let all = ["log.2", "log.1", "log"]
            .iter()
            .map(|n| fs::read_to_string(dir.path().join(n)).unwrap())
            .collect::<String>();
        assert!(all.ends_with("line 9\n"), "{all}");
        // two lines a file, three files, the current one just rotated (empty)
        assert!(all.starts_with("line 6\n"), "{all}");
    }

    /// A reader that hands out `step` bytes at a time, splitting lines anywhere.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(self.data.len()).min(buf.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn files_hold_whole_lines_however_reads_split_them() {
        let text: String = (1..=5000).map(|i| format!("{i}\n")).collect();
        for step in [1, 3, 7, 100, 4093, CHUNK] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("log");
            let mut log = Log::open(&path, 3).unwrap();
            let input = Trickle {
                data: text.as_bytes(),
                step,
            };
            copy(input, &mut log, Some(1000)).unwrap();
            let mut numbers = Vec::new();
            for name in ["log.2", "log.1", "log"] {
                let body = fs::read_to_string(dir.path().join(name)).unwrap();
                assert!(body.is_empty() || body.ends_with('\n'), "{step}: {name}");
                assert!(body.len() < 1000 + 6, "{step}: {name} is {}", body.len());
                numbers.extend(body.lines().map(|l| l.parse::<u32>().unwrap()));
            }
            assert_eq!(numbers.last(), Some(&5000), "{step}");
            let first = numbers[0];
            assert!(numbers.iter().copied().eq(first..=5000), "{step}: a gap");
            assert!(
                numbers.len() > 400,
                "{step}: only {} lines kept",
                numbers.len()
            );
        }
    }

    #[test]
    fn a_line_longer_than_two_files_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut log = Log::open(&path, 2).unwrap();
        let line = [b'x'; 100];
        let input = Trickle {
            data: &line,
            step: 7,
        };
        copy(input, &mut log, Some(10)).unwrap();
        assert!(fs::metadata(&path).unwrap().len() <= 20);
        assert!(fs::metadata(dir.path().join("log.1")).unwrap().len() <= 20);
    }

    #[test]
    fn timestamps_go_before_every_line_however_reads_split_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut log = Log::open(&path, 1).unwrap();
        let text = b"one\ntwo is longer\n\nfour";
        let input = Stamped::new(Trickle {
            data: text,
            step: 3,
        });
        copy(input, &mut log, None).unwrap();
        let body = fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = body.split('\n').collect();
        assert_eq!(lines.len(), 4, "{body}");
        for (line, want) in lines.iter().zip(["one", "two is longer", "", "four"]) {
            let (stamp, rest) = line.split_once(' ').unwrap();
            assert_eq!(rest, want);
            assert_eq!(
                stamp.len(),
                "2026-12-04T15:01:02.123456789Z".len(),
                "{stamp}"
            );
            assert!(humantime::parse_rfc3339(stamp).is_ok(), "{stamp}");
        }
    }

    #[test]
    fn one_file_starts_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut log = Log::open(&path, 1).unwrap();
        log.write(b"0123456789\n").unwrap();
        log.rotate().unwrap();
        log.write(b"x\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "x\n");
    }

    #[test]
    fn rotation_follows_a_moved_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let old = tmp.path().join("old");
        fs::create_dir(&old).unwrap();
        let mut log = Log::open(&old.join("log"), 3).unwrap();
        log.write(b"one\n").unwrap();
        let new = tmp.path().join("new");
        fs::rename(&old, &new).unwrap();
        log.rotate().unwrap();
        log.write(b"two\n").unwrap();
        assert!(!old.exists(), "nothing made at the old path");
        assert_eq!(fs::read_to_string(new.join("log.1")).unwrap(), "one\n");
        assert_eq!(fs::read_to_string(new.join("log")).unwrap(), "two\n");
    }
}
