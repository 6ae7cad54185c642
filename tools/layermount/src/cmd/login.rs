//! `layermount login REGISTRY` and `layermount logout REGISTRY`: credentials in the auth
//! file podman, skopeo and docker read.

use std::io::{BufRead, IsTerminal, Write};

use crate::cli::{LoginArgs, LogoutArgs};
use crate::error::{Error, IoContext};
use crate::registry::auth::{self, Credentials};
use crate::registry::client::{Client, Options};
use crate::registry::reference::{DOCKER_HUB, Reference};

/// `REGISTRY` (a host, or a URL as docker accepts it) → the key auth files use.
fn registry_key(s: &str) -> Result<String, Error> {
    let h = s
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let h = h.split('/').next().unwrap_or("");
    let h = match h {
        "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB,
        h => h,
    };
    // checked as the registry part of a reference
    Reference::parse(&format!("{h}/x"))
        .ok()
        .filter(|r| r.registry == h)
        .map(|r| r.registry)
        .ok_or_else(|| Error::Usage(format!("invalid registry '{s}': want HOST[:PORT]")))
}

fn read_line(prompt: &str, echo: bool) -> Result<String, Error> {
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    if tty {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
    }
    let saved = if tty && !echo {
        use nix::sys::termios;
        let t = termios::tcgetattr(&stdin).ok();
        if let Some(t) = &t {
            let mut quiet = t.clone();
            quiet.local_flags.remove(termios::LocalFlags::ECHO);
            let _ = termios::tcsetattr(&stdin, termios::SetArg::TCSANOW, &quiet);
        }
        t
    } else {
        None
    };
    let mut line = String::new();
    let res = stdin.lock().read_line(&mut line);
    if let Some(t) = saved {
        let _ = nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, &t);
        eprintln!();
    }
    res.ctx("read", "standard input")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

pub fn login(a: LoginArgs) -> Result<(), Error> {
    let registry = registry_key(&a.registry)?;
    let username = match a.username {
        Some(u) => u,
        None if std::io::stdin().is_terminal() => read_line("Username: ", true)?,
        None => {
            return Err(Error::Usage(
                "--username is needed when standard input is not a terminal".into(),
            ));
        }
    };
    let password = match (a.password, a.password_stdin) {
        (Some(_), true) => {
            return Err(Error::Usage(
                "--password and --password-stdin exclude each other".into(),
            ));
        }
        (Some(p), false) => p,
        (None, _) => read_line("Password: ", false)?,
    };
    if username.is_empty() || username.contains(':') {
        return Err(Error::Usage(
            "the username must be non-empty, without ':'".into(),
        ));
    }
    let creds = Credentials { username, password };
    let r = Reference {
        registry: registry.clone(),
        repository: "library/login".into(),
        tag: None,
        digest: None,
    };
    let client = Client::connect(
        &r,
        &Options {
            tls_verify: a.tls_verify,
            authfile: None,
            creds: Some(creds.clone()),
            push: false,
        },
    )?;
    client.verify_login()?;
    let file = auth::login_file(a.authfile.as_deref());
    auth::store(&file, &registry, &creds)?;
    common::debug!("credentials for {registry} in {}", file.display());
    eprintln!("Login Succeeded");
    Ok(())
}

pub fn logout(a: LogoutArgs) -> Result<(), Error> {
    let registry = registry_key(&a.registry)?;
    let mut files = vec![auth::login_file(a.authfile.as_deref())];
    if a.authfile.is_none() {
        for f in auth::auth_files(None) {
            if !files.contains(&f) {
                files.push(f);
            }
        }
    }
    let mut found = false;
    for f in files {
        if f.exists() && auth::remove(&f, &registry)? {
            common::debug!("removed {registry} from {}", f.display());
            found = true;
        }
    }
    if !found {
        return Err(Error::msg(format!("not logged in to {registry}")));
    }
    Ok(())
}
