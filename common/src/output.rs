//! Data output: one JSON document per run, column tables, id lists.
//!
//! Data goes to stdout, diagnostics to stderr. Write errors are returned, so a closed
//! pipe reaches [`crate::run::report`], which treats it as a quiet success.

use std::io::{self, Write};

use serde::Serialize;

/// Write exactly one JSON document and a newline on stdout.
pub fn emit_json<T: Serialize + ?Sized>(value: &T) -> io::Result<()> {
    // built whole, then one write: stdout is line-buffered, which would be a write per line
    let mut buf = Vec::new();
    write_json(&mut buf, value)?;
    let mut out = io::stdout().lock();
    out.write_all(&buf)?;
    out.flush()
}

/// Write one JSON document and a newline to `w` (pretty, two-space indent).
pub fn write_json<W: Write, T: Serialize + ?Sized>(w: &mut W, value: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, value).map_err(io::Error::other)?;
    w.write_all(b"\n")
}

/// Write one JSON value on one line (for `--jsonl` streams).
pub fn write_json_line<W: Write, T: Serialize + ?Sized>(w: &mut W, value: &T) -> io::Result<()> {
    serde_json::to_writer(&mut *w, value).map_err(io::Error::other)?;
    w.write_all(b"\n")
}

/// Print one item a line (`-q` lists, `cgset pids`).
pub fn emit_lines<I, S>(items: I) -> io::Result<()>
where
    I: IntoIterator<Item = S>,
    S: std::fmt::Display,
{
    let mut out = io::stdout().lock();
    for item in items {
        writeln!(out, "{item}")?;
    }
    out.flush()
}

/// A column-aligned table with a CAPS header, like `docker ps`.
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<I, S>(headers: I) -> Table
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Table {
            headers: headers
                .into_iter()
                .map(|h| h.into().to_uppercase())
                .collect(),
            rows: Vec::new(),
        }
    }

    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Render with columns separated by at least three spaces; the last column is not padded.
    pub fn render(&self, headers: bool) -> String {
        let ncol = self.headers.len();
        let mut widths = vec![0usize; ncol];
        let all = std::iter::once(&self.headers)
            .filter(|_| headers)
            .chain(self.rows.iter());
        for row in all.clone() {
            for (i, cell) in row.iter().enumerate().take(ncol) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut s = String::new();
        for row in all {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate().take(ncol) {
                line.push_str(cell);
                if i + 1 < ncol {
                    let pad = widths[i] - cell.chars().count() + 3;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            s.push_str(line.trim_end());
            s.push('\n');
        }
        s
    }

    /// Print on stdout; `headers = false` is `--no-headers`.
    pub fn print(&self, headers: bool) -> io::Result<()> {
        let mut out = io::stdout().lock();
        out.write_all(self.render(headers).as_bytes())?;
        out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let mut t = Table::new(["id", "name"]);
        t.row(["a", "web"]);
        t.row(["abcdef", "db"]);
        assert_eq!(t.render(true), "ID       NAME\na        web\nabcdef   db\n");
        assert_eq!(t.render(false), "a        web\nabcdef   db\n");
    }

    #[test]
    fn json_is_one_document() {
        let mut buf = Vec::new();
        write_json(&mut buf, &serde_json::json!({"a_b": 1})).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.ends_with("}\n"));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["a_b"], 1);
    }
}
