//! Registry credentials, read from the files the ecosystem already uses:
//! `$REGISTRY_AUTH_FILE`, `${XDG_RUNTIME_DIR}/containers/auth.json` (podman, skopeo) and
//! `${DOCKER_CONFIG:-~/.docker}/config.json` (docker, with its credential helpers).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};

use crate::error::{Error, IoContext};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl Credentials {
    pub fn basic_header(&self) -> String {
        format!(
            "Basic {}",
            B64.encode(format!("{}:{}", self.username, self.password))
        )
    }
}

/// The files searched, in order; the first that names the registry wins.
pub fn auth_files(explicit: Option<&Path>) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(p) = explicit {
        v.push(p.to_path_buf());
        return v;
    }
    if let Some(p) = std::env::var_os("REGISTRY_AUTH_FILE").filter(|p| !p.is_empty()) {
        v.push(PathBuf::from(p));
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|p| !p.is_empty()) {
        v.push(PathBuf::from(d).join("containers/auth.json"));
    }
    v.push(docker_config());
    v
}

fn docker_config() -> PathBuf {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|p| !p.is_empty()) {
        return PathBuf::from(d).join("config.json");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".docker/config.json")
}

/// The file `login` writes: `--authfile`, else `$REGISTRY_AUTH_FILE`, else
/// `${XDG_RUNTIME_DIR}/containers/auth.json` when that variable is set, else docker's.
pub fn login_file(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("REGISTRY_AUTH_FILE").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|p| !p.is_empty()) {
        return PathBuf::from(d).join("containers/auth.json");
    }
    docker_config()
}

/// The keys an `auths` entry for `registry` may have, most specific first (podman also
/// allows `registry/repo` keys).
fn keys(registry: &str, repository: &str) -> Vec<String> {
    let mut v = Vec::new();
    let mut path = format!("{registry}/{repository}");
    loop {
        v.push(path.clone());
        match path.rsplit_once('/') {
            Some((p, _)) => path = p.to_string(),
            None => break,
        }
    }
    v.push(format!("https://{registry}"));
    v.push(format!("http://{registry}"));
    if registry == super::reference::DOCKER_HUB {
        v.push("https://index.docker.io/v1/".into());
        v.push("index.docker.io".into());
    }
    v
}

fn lookup(cfg: &Value, registry: &str, repository: &str, file: &Path) -> Option<Credentials> {
    for k in keys(registry, repository) {
        if let Some(helper) = cfg.pointer("/credHelpers").and_then(|h| h.get(&k)) {
            if let Some(h) = helper.as_str() {
                return from_helper(h, &k);
            }
        }
        let Some(e) = cfg.get("auths").and_then(|a| a.get(&k)) else {
            continue;
        };
        if let Some(a) = e
            .get("auth")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
        {
            let decoded = B64.decode(a.trim()).ok()?;
            let s = String::from_utf8(decoded).ok()?;
            let (u, p) = s.split_once(':')?;
            return Some(Credentials {
                username: u.to_string(),
                password: p.to_string(),
            });
        }
        if let (Some(u), Some(p)) = (
            e.get("username").and_then(Value::as_str),
            e.get("password").and_then(Value::as_str),
        ) {
            return Some(Credentials {
                username: u.into(),
                password: p.into(),
            });
        }
        // an empty entry under credsStore: ask the store
        if let Some(store) = cfg.get("credsStore").and_then(Value::as_str) {
            return from_helper(store, &k);
        }
        common::debug!("{}: entry {k} has no credentials", file.display());
    }
    None
}

/// `docker-credential-NAME get` with the server on stdin: `{"Username":..,"Secret":..}`.
fn from_helper(name: &str, server: &str) -> Option<Credentials> {
    if name.is_empty() || name.contains('/') {
        return None;
    }
    let prog = format!("docker-credential-{name}");
    let mut child = Command::new(&prog)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| common::debug!("{prog}: {e}"))
        .ok()?;
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(server.as_bytes());
    }
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        common::debug!("{prog} get {server}: {}", out.status);
        return None;
    }
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    Some(Credentials {
        username: v.get("Username")?.as_str()?.to_string(),
        password: v.get("Secret")?.as_str()?.to_string(),
    })
}

/// Credentials for `registry` (and `repository`), from the first file that has them.
pub fn find(registry: &str, repository: &str, explicit: Option<&Path>) -> Option<Credentials> {
    for f in auth_files(explicit) {
        let Ok(b) = std::fs::read(&f) else { continue };
        let cfg: Value = match serde_json::from_slice(&b) {
            Ok(v) => v,
            Err(e) => {
                common::debug!("{}: not JSON ({e}): skipped", f.display());
                continue;
            }
        };
        if let Some(c) = lookup(&cfg, registry, repository, &f) {
            common::debug!("credentials for {registry} from {}", f.display());
            return Some(c);
        }
    }
    None
}

fn read_obj(path: &Path) -> Result<Map<String, Value>, Error> {
    match std::fs::read(path) {
        Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
        Ok(b) => match serde_json::from_slice(&b) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(Error::msg(format!("{}: not a JSON object", path.display()))),
            Err(e) => Err(Error::Json {
                what: path.display().to_string(),
                source: e,
            }),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

fn write_obj(path: &Path, m: Map<String, Value>) -> Result<(), Error> {
    if let Some(d) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(d).ctx("create", d)?;
    }
    let mut b = serde_json::to_vec_pretty(&Value::Object(m)).map_err(|e| Error::Json {
        what: path.display().to_string(),
        source: e,
    })?;
    b.push(b'\n');
    // credentials: 0600, replaced whole
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let res = (|| {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .ctx("create", &tmp)?;
        f.write_all(&b).ctx("write", &tmp)?;
        std::fs::rename(&tmp, path).ctx("write", path)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// Record `c` for `registry` in `path` (other entries and keys are kept).
pub fn store(path: &Path, registry: &str, c: &Credentials) -> Result<(), Error> {
    let mut m = read_obj(path)?;
    let auths = m.entry("auths").or_insert_with(|| json!({}));
    if !auths.is_object() {
        *auths = json!({});
    }
    auths[registry] = json!({"auth": B64.encode(format!("{}:{}", c.username, c.password))});
    write_obj(path, m)
}

/// Forget `registry` in `path`; false when it had no entry.
pub fn remove(path: &Path, registry: &str) -> Result<bool, Error> {
    let mut m = read_obj(path)?;
    let mut found = false;
    if let Some(a) = m.get_mut("auths").and_then(Value::as_object_mut) {
        for k in [
            registry.to_string(),
            format!("https://{registry}"),
            format!("http://{registry}"),
        ] {
            found |= a.remove(&k).is_some();
        }
    }
    if found {
        write_obj(path, m)?;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_auth_entries() {
        let cfg = json!({"auths": {
            "127.0.0.1:5000": {"auth": B64.encode("alice:s3:cret")},
            "https://index.docker.io/v1/": {"auth": B64.encode("bob:pw")},
            "quay.io/team": {"auth": B64.encode("carol:x")},
        }});
        let f = Path::new("t");
        let c = lookup(&cfg, "127.0.0.1:5000", "a/b", f).unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("alice", "s3:cret")
        );
        assert_eq!(
            lookup(&cfg, "docker.io", "library/x", f).unwrap().username,
            "bob"
        );
        assert_eq!(
            lookup(&cfg, "quay.io", "team/app", f).unwrap().username,
            "carol"
        );
        assert!(lookup(&cfg, "quay.io", "other/app", f).is_none());
        assert!(lookup(&cfg, "127.0.0.2:5000", "a", f).is_none());
    }

    #[test]
    fn store_and_remove_keep_other_keys() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("auth.json");
        std::fs::write(
            &p,
            r#"{"credsStore":"x","auths":{"other":{"auth":"eDp5"}}}"#,
        )
        .unwrap();
        let c = Credentials {
            username: "u".into(),
            password: "p".into(),
        };
        store(&p, "r:1", &c).unwrap();
        let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(v["credsStore"], "x");
        assert_eq!(v["auths"]["other"]["auth"], "eDp5");
        assert_eq!(lookup(&v, "r:1", "a", &p).unwrap(), c);
        assert!(remove(&p, "r:1").unwrap());
        assert!(!remove(&p, "r:1").unwrap());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
