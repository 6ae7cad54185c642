//! `--format` of `ls` and `stats`: json (an object a line), or a Go-template subset: text
//! with `{{.Field}}`, `\t` for a tab, and a leading `table` for a header line.

use serde_json::{Map, Value};

use crate::error::Error;

pub enum Format {
    Default,
    Json,
    Template { table: bool, parts: Vec<Part> },
}

pub enum Part {
    Text(String),
    Field(String),
}

impl Format {
    /// Parse `--format F` (or `--json`), knowing the command's field names.
    pub fn parse(f: Option<&str>, json: bool, fields: &[&str]) -> Result<Format, Error> {
        let f = match (f, json) {
            (None, false) => return Ok(Format::Default),
            (None, true) => return Ok(Format::Json),
            (Some(f), _) => f,
        };
        if f == "json" || f == "{{json .}}" {
            return Ok(Format::Json);
        }
        if f == "table" {
            return Ok(Format::Default);
        }
        let (table, body) = match f.strip_prefix("table") {
            Some(rest) => (true, rest.trim_start()),
            None => (false, f),
        };
        let body = body.replace("\\t", "\t").replace("\\n", "\n");
        let mut parts = Vec::new();
        let mut rest = body.as_str();
        while let Some(open) = rest.find("{{") {
            parts.push(Part::Text(rest[..open].to_string()));
            let Some(close) = rest[open..].find("}}") else {
                return Err(Error::Usage(format!("--format {f}: '{{{{' without '}}}}'")));
            };
            let inner = rest[open + 2..open + close].trim();
            let field = inner.strip_prefix('.').unwrap_or(inner);
            if !fields.contains(&field) {
                return Err(Error::Usage(format!(
                    "--format {f}: unknown field '{inner}' (.{})",
                    fields.join(", .")
                )));
            }
            parts.push(Part::Field(field.to_string()));
            rest = &rest[open + close + 2..];
        }
        parts.push(Part::Text(rest.to_string()));
        Ok(Format::Template { table, parts })
    }
}

/// The template filled with the string fields of `fields`.
pub fn render(parts: &[Part], fields: &Value) -> String {
    let empty = Map::new();
    let obj = fields.as_object().unwrap_or(&empty);
    parts
        .iter()
        .map(|p| match p {
            Part::Text(t) => t.clone(),
            Part::Field(k) => obj
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates() {
        let f = &["Names", "Status"];
        let Format::Template { table, parts } =
            Format::parse(Some("table {{.Names}}\\t{{ .Status }}"), false, f).unwrap()
        else {
            panic!("not a template")
        };
        assert!(table);
        let v = json!({"Names": "web", "Status": "Up 1 second"});
        assert_eq!(render(&parts, &v), "web\tUp 1 second");
        assert!(Format::parse(Some("{{.Bogus}}"), false, f).is_err());
        assert!(Format::parse(Some("{{.Names"), false, f).is_err());
        assert!(matches!(
            Format::parse(Some("json"), false, f),
            Ok(Format::Json)
        ));
    }
}
