//! The hidden `TOOL --generate man|bash|zsh|fish|elvish`: man page and shell completions
//! rendered from the same clap definitions as `--help`.
//!
//! A man page is the tool's hand-written `man/TOOL.1.in` with these placeholder lines
//! replaced: `@SYNOPSIS@`, `@OPTIONS@`, `@COMMANDS@` (one `.SS` per subcommand, with its
//! usage and options) and `@VERSION@`. The output carries no date, so it is reproducible
//! and `diff`-able against the checked-in `man/TOOL.1`.

use std::io::{self, Write};

use clap_complete::Shell;

use crate::exit::HasExitCode;

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("unknown --generate target '{0}' (expected man, bash, zsh, fish or elvish)")]
    Target(String),
    #[error("cannot write the generated text")]
    Write(#[from] io::Error),
}

impl HasExitCode for GenerateError {
    fn exit_code(&self) -> i32 {
        match self {
            GenerateError::Target(_) => crate::exit::USAGE,
            GenerateError::Write(_) => crate::exit::FAILURE,
        }
    }
}

pub fn generate(
    mut cmd: clap::Command,
    tool: &str,
    man_template: &str,
    what: &str,
) -> Result<(), GenerateError> {
    let mut out = io::stdout().lock();
    match what {
        "man" => {
            out.write_all(render_man(cmd, tool, man_template).as_bytes())?;
        }
        other => {
            let shell: Shell = other
                .parse()
                .map_err(|_| GenerateError::Target(other.to_string()))?;
            clap_complete::generate(shell, &mut cmd, tool.to_string(), &mut out);
        }
    }
    out.flush()?;
    Ok(())
}

/// Fill the placeholders of `template` from `cmd`.
pub fn render_man(mut cmd: clap::Command, tool: &str, template: &str) -> String {
    cmd.build();
    let mut page = String::new();
    for line in template.lines() {
        match line.trim() {
            "@SYNOPSIS@" => page.push_str(&synopsis(&cmd)),
            "@OPTIONS@" => page.push_str(&options(&cmd, true)),
            "@COMMANDS@" => page.push_str(&commands(&cmd, tool)),
            "@VERSION@" => {
                page.push_str(&format!(
                    ".SH VERSION\n{tool} (ctrkit) {}\n",
                    env!("CARGO_PKG_VERSION")
                ));
            }
            _ => {
                page.push_str(line);
                page.push('\n');
            }
        }
    }
    page
}

fn synopsis(cmd: &clap::Command) -> String {
    let mut buf = Vec::new();
    let _ = clap_mangen::Man::new(cmd.clone()).render_synopsis_section(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

fn options(cmd: &clap::Command, with_heading: bool) -> String {
    if cmd.get_arguments().all(|a| a.is_hide_set()) {
        return String::new();
    }
    let mut buf = Vec::new();
    let _ = clap_mangen::Man::new(cmd.clone()).render_options_section(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    if with_heading {
        text
    } else {
        text.lines()
            .filter(|l| !l.starts_with(".SH "))
            .map(|l| format!("{l}\n"))
            .collect()
    }
}

fn commands(cmd: &clap::Command, tool: &str) -> String {
    let subs: Vec<&clap::Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .collect();
    if subs.is_empty() {
        return String::new();
    }
    let mut page = String::from(".SH COMMANDS\n");
    for sub in subs {
        command_section(&mut page, sub, tool);
    }
    page
}

fn command_section(page: &mut String, sub: &clap::Command, prefix: &str) {
    let mut sub = sub.clone();
    let full = format!("{prefix} {}", sub.get_name());
    sub = sub.bin_name(full.clone());
    sub.build();
    page.push_str(&format!(".SS \"{full}\"\n"));
    let usage = sub.render_usage().to_string();
    let usage = usage
        .strip_prefix("Usage: ")
        .unwrap_or(&usage)
        .trim()
        .to_string();
    page.push_str(&format!(".B {}\n.PP\n", roff_escape(&usage)));
    if let Some(about) = sub.get_long_about().or(sub.get_about()) {
        for para in about.to_string().split("\n\n") {
            page.push_str(&roff_escape(para.trim()));
            page.push_str("\n.PP\n");
        }
    }
    page.push_str(&options(&sub, false));
    let nested: Vec<clap::Command> = sub
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .cloned()
        .collect();
    for n in nested {
        command_section(page, &n, &full);
    }
}

fn roff_escape(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    escaped
        .lines()
        .map(|l| {
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect::<String>()
        .trim_end()
        .to_string()
}
