//! Parsers for values several tools share. Each returns a [`ParseError`] whose text says
//! what is wrong; used as clap `value_parser`s, clap names the flag in front of it.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(String);

impl ParseError {
    pub fn new(msg: impl Into<String>) -> ParseError {
        ParseError(msg.into())
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError(msg.into()))
}

/// A size in bytes, or `max` (no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Size {
    Bytes(u64),
    Max,
}

impl Size {
    pub fn bytes(self) -> Option<u64> {
        match self {
            Size::Bytes(b) => Some(b),
            Size::Max => None,
        }
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Size::Bytes(b) => write!(f, "{b}"),
            Size::Max => f.write_str("max"),
        }
    }
}

/// Parse `512`, `512k`, `256M`, `1.5G`, `2GiB`, `1t`, `max`. Units are binary (k = 1024);
/// a trailing `b`/`B` and an `i` are accepted (`256MiB`, `256mb`).
/// A signal by name (`TERM`, `SIGTERM`, `term`) or number (`15`).
pub fn parse_signal(s: &str) -> Result<nix::sys::signal::Signal, ParseError> {
    use std::str::FromStr;
    let t = s.trim().to_ascii_uppercase();
    if let Ok(n) = t.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n)
            .map_err(|_| ParseError(format!("'{s}' is not a signal")));
    }
    let name = if t.starts_with("SIG") {
        t
    } else {
        format!("SIG{t}")
    };
    nix::sys::signal::Signal::from_str(&name)
        .map_err(|_| ParseError(format!("'{s}' is not a signal")))
}

pub fn parse_size(s: &str) -> Result<Size, ParseError> {
    let t = s.trim();
    if t.is_empty() {
        return err("empty size");
    }
    if t.eq_ignore_ascii_case("max") || t == "-1" {
        return Ok(Size::Max);
    }
    let num_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(num_end);
    if num.is_empty() {
        return err(format!(
            "'{s}' is not a size (expected a number with an optional unit: 512k, 256M, 1.5G, max)"
        ));
    }
    let mut unit_l = unit.to_ascii_lowercase();
    if unit_l.len() > 1 && unit_l.ends_with('b') {
        unit_l.pop();
    }
    if unit_l.len() == 2 && unit_l.ends_with('i') {
        unit_l.pop();
    }
    let shift: u32 = match unit_l.as_str() {
        "" | "b" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        "e" => 60,
        _ => {
            return err(format!(
                "'{s}' has an unknown unit '{unit}' (use k, M, G, T, P)"
            ));
        }
    };
    let mut parts = num.split('.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next();
    if parts.next().is_some() {
        return err(format!(
            "'{s}' is not a number: more than one decimal point"
        ));
    }
    if int.is_empty() || frac == Some("") {
        return err(format!("'{s}' is not a number"));
    }
    let mult: u128 = 1u128 << shift;
    let int_v: u128 = int
        .parse::<u128>()
        .map_err(|_| ParseError(format!("'{s}' is too large")))?;
    let mut total = int_v
        .checked_mul(mult)
        .ok_or_else(|| ParseError(format!("'{s}' is too large")))?;
    if let Some(frac) = frac {
        if frac.len() > 18 {
            return err(format!("'{s}' has too many decimal places"));
        }
        let frac_v: u128 = frac
            .parse()
            .map_err(|_| ParseError(format!("'{s}' is not a number")))?;
        let scale = 10u128.pow(frac.len() as u32);
        let part = frac_v * mult;
        if part % scale != 0 && shift == 0 {
            return err(format!("'{s}' is not a whole number of bytes"));
        }
        total += part / scale;
    }
    if total > u64::MAX as u128 {
        return err(format!("'{s}' is too large (the limit is 16 EiB)"));
    }
    Ok(Size::Bytes(total as u64))
}

/// Parse a size that must be a number of bytes (no `max`).
pub fn parse_bytes(s: &str) -> Result<u64, ParseError> {
    match parse_size(s)? {
        Size::Bytes(b) => Ok(b),
        Size::Max => err("'max' is not allowed here"),
    }
}

/// Format bytes for humans (tables only): `512B`, `1.5KiB`, `256MiB`.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{b}B")
    } else if v >= 100.0 {
        format!("{v:.0}{}", UNITS[i])
    } else {
        format!("{:.1}{}", v, UNITS[i]).replace(".0", "")
    }
}

/// Parse a duration with humantime (`100ms`, `1s`, `1m30s`). A bare number is refused:
/// the unit must be said.
pub fn parse_duration(s: &str) -> Result<Duration, ParseError> {
    let t = s.trim();
    if t.is_empty() {
        return err("empty duration");
    }
    if t.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return err(format!("'{s}' has no unit (write e.g. {t}s or {t}ms)"));
    }
    humantime::parse_duration(t).map_err(|e| ParseError(format!("'{s}' is not a duration: {e}")))
}

/// The highest CPU or memory-node number a list may name.
pub const MAX_CPU: u32 = 65535;

/// A set of CPUs (or memory nodes) as the kernel writes it: `0-3,6`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpuList(pub BTreeSet<u32>);

impl CpuList {
    pub fn contains(&self, cpu: u32) -> bool {
        self.0.contains(&cpu)
    }
}

impl fmt::Display for CpuList {
    /// The canonical form: ascending, ranges collapsed (`0-3,6`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut iter = self.0.iter().copied().peekable();
        while let Some(start) = iter.next() {
            let mut end = start;
            while iter.peek() == Some(&(end + 1)) {
                end = iter.next().unwrap_or(end);
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if start == end {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
        }
        Ok(())
    }
}

/// Parse `0-3,6`. Empty lists, open ranges (`0-`), reversed ranges (`3-1`) and numbers
/// past [`MAX_CPU`] are refused.
pub fn parse_cpu_list(s: &str) -> Result<CpuList, ParseError> {
    let t = s.trim();
    if t.is_empty() {
        return err("empty CPU list");
    }
    let num = |p: &str| -> Result<u32, ParseError> {
        if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) {
            return err(format!(
                "'{s}' is not a CPU list: '{p}' is not a number (expected e.g. 0-3,6)"
            ));
        }
        match p.parse::<u32>() {
            Ok(n) if n <= MAX_CPU => Ok(n),
            _ => err(format!("'{s}': {p} is too large (at most {MAX_CPU})")),
        }
    };
    let mut set = BTreeSet::new();
    for part in t.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return err(format!("'{s}': range {part} runs backwards"));
                }
                set.extend(a..=b);
            }
            None => {
                set.insert(num(part)?);
            }
        }
    }
    Ok(CpuList(set))
}

/// Parse a container name: `[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}` (Docker's rule).
pub fn parse_container_name(s: &str) -> Result<String, ParseError> {
    let mut chars = s.chars();
    match chars.next() {
        None => return err("empty container name"),
        Some(c) if !c.is_ascii_alphanumeric() => {
            return err(format!(
                "'{s}' is not a valid container name: it must start with a letter or digit"
            ));
        }
        _ => {}
    }
    if s.len() > 128 {
        return err(format!(
            "container name '{s}' is longer than 128 characters"
        ));
    }
    if let Some(bad) = chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return err(format!(
            "'{s}' is not a valid container name: '{bad}' is not allowed (use letters, digits, _ . -)"
        ));
    }
    Ok(s.to_string())
}

/// Parse a process id (a positive integer that fits `pid_t`).
pub fn parse_pid(s: &str) -> Result<i32, ParseError> {
    match s.trim().parse::<i32>() {
        Ok(p) if p > 0 => Ok(p),
        _ => err(format!("'{s}' is not a process id")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_or_number() {
        use nix::sys::signal::Signal;
        assert_eq!(parse_signal("term").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("SIGKILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(
            parse_signal("BOGUS")
                .unwrap_err()
                .to_string()
                .contains("BOGUS")
        );
    }

    #[test]
    fn sizes() {
        let ok = [
            ("0", 0u64),
            ("512", 512),
            ("512k", 512 << 10),
            ("512K", 512 << 10),
            ("256M", 256 << 20),
            ("256MiB", 256 << 20),
            ("256mb", 256 << 20),
            ("1.5G", 3 << 29),
            ("1G", 1 << 30),
            ("2t", 2 << 40),
            ("0.5k", 512),
        ];
        for (s, want) in ok {
            assert_eq!(parse_size(s), Ok(Size::Bytes(want)), "{s}");
        }
        assert_eq!(parse_size("max"), Ok(Size::Max));
        assert_eq!(parse_size("MAX"), Ok(Size::Max));
    }

    #[test]
    fn bad_sizes() {
        for s in [
            "-1M",
            "1.5.5G",
            "",
            "  ",
            "abc",
            "12Q",
            "1.",
            ".5G",
            "1.5",
            "99999999999999999999999",
            "16E",
            "1e3",
        ] {
            let e = parse_size(s).expect_err(s);
            assert!(!e.to_string().is_empty(), "{s}");
        }
        assert!(parse_size("-1M").unwrap_err().to_string().contains("-1M"));
        assert!(
            parse_size("1.5.5G")
                .unwrap_err()
                .to_string()
                .contains("decimal point")
        );
        assert!(
            parse_size("99999999999999999999999")
                .unwrap_err()
                .to_string()
                .contains("too large")
        );
        assert!(parse_bytes("max").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        for s in ["", "10", "-1s", "1x", "1.5.5s"] {
            assert!(parse_duration(s).is_err(), "{s}");
        }
        assert!(
            parse_duration("10")
                .unwrap_err()
                .to_string()
                .contains("no unit")
        );
    }

    #[test]
    fn cpu_lists() {
        let l = parse_cpu_list("0-3,6").unwrap();
        assert_eq!(l.0.iter().copied().collect::<Vec<_>>(), vec![0, 1, 2, 3, 6]);
        assert_eq!(l.to_string(), "0-3,6");
        assert_eq!(parse_cpu_list("5,1,2,3").unwrap().to_string(), "1-3,5");
        assert_eq!(parse_cpu_list("0").unwrap().to_string(), "0");
        for s in [
            "",
            "0-",
            "-1",
            "3-1",
            "a",
            "1,,2",
            "0-99999999999",
            "70000",
            "1-2-3",
        ] {
            assert!(parse_cpu_list(s).is_err(), "{s}");
        }
        assert!(
            parse_cpu_list("3-1")
                .unwrap_err()
                .to_string()
                .contains("backwards")
        );
    }

    #[test]
    fn container_names() {
        for s in ["web", "a", "web_1.prod-2", "0abc"] {
            assert_eq!(parse_container_name(s).as_deref(), Ok(s));
        }
        let long = "a".repeat(129);
        for s in ["", "-web", ".x", "a/b", "a b", "ü", long.as_str(), "../x"] {
            assert!(parse_container_name(s).is_err(), "{s}");
        }
        assert!(parse_container_name(&"a".repeat(128)).is_ok());
    }

    #[test]
    fn pids() {
        assert_eq!(parse_pid("42"), Ok(42));
        for s in ["0", "-3", "x", "", "99999999999"] {
            assert!(parse_pid(s).is_err(), "{s}");
        }
    }

    #[test]
    fn human() {
        assert_eq!(human_bytes(512), "512B");
        assert_eq!(human_bytes(1536), "1.5KiB");
        assert_eq!(human_bytes(256 << 20), "256MiB");
    }
}
