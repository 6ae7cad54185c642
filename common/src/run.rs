//! The `main` wrapper every tool calls: parse, `--generate`, one-line errors, exit codes.

use std::error::Error;
use std::io;
use std::process;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::CommandFactory;

use crate::exit::{self, HasExitCode};

static TOOL: OnceLock<&'static str> = OnceLock::new();
static CALLER: OnceLock<Option<String>> = OnceLock::new();
static DEBUG: AtomicBool = AtomicBool::new(false);

/// The running tool's name, as given to [`run`] (`"ctrkit"` before that).
pub fn tool_name() -> &'static str {
    TOOL.get().copied().unwrap_or("ctrkit")
}

/// The name error lines begin with: the tool's, or that of the script that exec'd it and
/// said so in `CTRKIT_CALLER` (ctr-pull runs `layermount pull` so, keeping its terminal for
/// the progress display, and its errors read `ctr-pull: error: ...`). Only a plain name
/// (letters, digits, `-`, `_`, `.`) is taken.
pub fn error_name() -> &'static str {
    let caller = CALLER.get_or_init(|| {
        let v = std::env::var("CTRKIT_CALLER").ok()?;
        let plain = !v.is_empty()
            && v.len() <= 64
            && v.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
        plain.then_some(v)
    });
    caller.as_deref().unwrap_or_else(tool_name)
}

/// Turn `TOOL: debug:` output on (for `-v`); `CTRKIT_DEBUG=1` also turns it on.
pub fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

/// The `--version` text: `TOOL (ctrkit) X.Y.Z`.
pub const VERSION: &str = concat!("(ctrkit) ", env!("CARGO_PKG_VERSION"));

/// What a command returns on success: nothing (exit 0) or an exit status of its own
/// (the status of a command it ran).
pub trait Outcome {
    fn code(self) -> i32;
}

impl Outcome for () {
    fn code(self) -> i32 {
        exit::OK
    }
}

impl Outcome for i32 {
    fn code(self) -> i32 {
        self
    }
}

/// Run a tool: parse `C` from the command line, call `f`, map its result to an exit status.
///
/// `man_template` is the tool's `man/TOOL.1.in`; the hidden `--generate man|bash|zsh|fish`
/// renders the man page or a completion script from the same clap definitions as `--help`.
pub fn run<C, T, E>(
    tool: &'static str,
    man_template: &'static str,
    f: impl FnOnce(C) -> Result<T, E>,
) -> !
where
    C: clap::Parser,
    T: Outcome,
    E: Error + HasExitCode + 'static,
{
    let _ = TOOL.set(tool);
    if std::env::var_os("CTRKIT_DEBUG").is_some_and(|v| v != "0" && !v.is_empty()) {
        set_debug(true);
    }
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "--generate") {
        let what = args.get(2).and_then(|a| a.to_str()).unwrap_or("");
        let code = match crate::generate::generate(command::<C>(tool), tool, man_template, what) {
            Ok(()) => exit::OK,
            Err(e) => report(&e),
        };
        process::exit(code);
    }
    let matches = match command::<C>(tool).try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => process::exit(usage_error(e)),
    };
    let cli = match C::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => process::exit(usage_error(e)),
    };
    let code = match f(cli) {
        Ok(outcome) => outcome.code(),
        Err(e) => report(&e),
    };
    process::exit(code)
}

/// The tool's clap command with the house version string.
pub fn command<C: CommandFactory>(tool: &'static str) -> clap::Command {
    C::command().name(tool).bin_name(tool).version(VERSION)
}

fn usage_error(e: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            // clap prints these to stdout; a closed stdout is not an error.
            let _ = e.print();
            exit::OK
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprintln!(
                "{}: error: a subcommand is required (see '{} --help')",
                error_name(),
                tool_name()
            );
            exit::USAGE
        }
        _ => {
            eprintln!(
                "{}: error: {}",
                error_name(),
                usage_line(&e.render().to_string())
            );
            exit::USAGE
        }
    }
}

/// clap's message on one line: its first paragraph (the error and, for missing
/// arguments, the indented list of them), without the usage and tips that follow.
fn usage_line(rendered: &str) -> String {
    let para: Vec<&str> = rendered
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let line = para.join(" ");
    let line = line.strip_prefix("error: ").unwrap_or(&line).to_string();
    if line.is_empty() {
        "invalid usage".to_string()
    } else {
        line
    }
}

/// Print `TOOL: error: ...` for `e` and return its exit status. A broken pipe on stdout
/// is a reader that stopped early (`| head`): quiet success.
pub fn report<E: Error + HasExitCode + 'static>(e: &E) -> i32 {
    if is_broken_pipe(e) {
        return exit::OK;
    }
    eprintln!("{}: error: {}", error_name(), error_line(e));
    e.exit_code()
}

/// The error and its `source()` chain on one line, joined with `": "`.
/// A cause whose text the message already ends with is not repeated.
pub fn error_line(e: &(dyn Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut cur = e.source();
    while let Some(cause) = cur {
        let text = cause.to_string();
        if !text.is_empty() && !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cur = cause.source();
    }
    line.replace('\n', " ")
}

fn is_broken_pipe(e: &(dyn Error + 'static)) -> bool {
    let mut cur: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            if io.kind() == io::ErrorKind::BrokenPipe {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read {path}")]
    struct ReadError {
        path: String,
        #[source]
        source: io::Error,
    }

    #[test]
    fn chain_is_joined_on_one_line() {
        let e = ReadError {
            path: "/x".into(),
            source: io::Error::from_raw_os_error(libc::ENOENT),
        };
        assert_eq!(
            error_line(&e),
            "cannot read /x: No such file or directory (os error 2)"
        );
    }

    #[test]
    fn usage_errors_keep_the_missing_argument_names() {
        let rendered = "error: the following required arguments were not provided:\n  <IMAGE>\n  <TARGET>\n\nUsage: layermount mount <IMAGE> <TARGET>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            usage_line(rendered),
            "the following required arguments were not provided: <IMAGE> <TARGET>"
        );
        assert_eq!(
            usage_line("error: unexpected argument '--x' found\n\n  tip: ...\n"),
            "unexpected argument '--x' found"
        );
    }

    #[test]
    fn broken_pipe_is_detected_through_the_chain() {
        let e = ReadError {
            path: "stdout".into(),
            source: io::Error::from(io::ErrorKind::BrokenPipe),
        };
        assert!(is_broken_pipe(&e));
    }
}
