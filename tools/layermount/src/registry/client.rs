//! A client of the OCI distribution API v2: ping, token (Bearer) and Basic auth, manifests
//! and blobs. Blocking, over ureq with rustls; one agent (a connection pool) shared by the
//! threads that fetch layers.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use ureq::http::Response;
use ureq::{Agent, Body};

use super::auth::{self, Credentials};
use super::reference::Reference;
use crate::error::Error;

/// Media types a manifest GET accepts.
pub const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `Some(false)`: no certificate checks, plain HTTP allowed; `None`: verify, except that a
    /// loopback registry may be plain HTTP (as Docker does)
    pub tls_verify: Option<bool>,
    pub authfile: Option<PathBuf>,
    /// given on the command line (`--creds`); otherwise read from the auth files
    pub creds: Option<Credentials>,
    /// ask for push rights, not only pull
    pub push: bool,
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Builds and sends one request, given the URL and the Authorization header in force.
pub type Sender<'a> = &'a dyn Fn(&Agent, &str, Option<&str>) -> Result<Response<Body>, ureq::Error>;

pub struct Client {
    agent: Agent,
    /// the agent for token realms (they may be on another host): always verifying, unless
    /// --tls-verify=false
    token_agent: Agent,
    /// `https://host` or `http://host`
    base: String,
    pub reference: Reference,
    creds: Option<Credentials>,
    actions: &'static str,
    /// the Authorization header in force (a Bearer token, or Basic)
    authz: Mutex<Option<String>>,
    /// extra repositories to ask pull rights for (cross-repository blob mounts)
    extra_scopes: Mutex<Vec<String>>,
}

fn http_err(what: impl Into<String>, e: ureq::Error) -> Error {
    Error::Http {
        what: what.into(),
        source: Box::new(e),
    }
}

fn agent(verify: bool) -> Agent {
    let mut tls = ureq::tls::TlsConfig::builder();
    if verify {
        let certs = rustls_native_certs::load_native_certs();
        let roots: Vec<_> = certs
            .certs
            .iter()
            .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
            .collect();
        if roots.is_empty() {
            common::debug!("no system CA certificates found: using the built-in webpki roots");
        } else {
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&roots));
        }
    } else {
        tls = tls.disable_verification(true);
    }
    Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(tls.build())
        .user_agent(concat!("layermount/", env!("CARGO_PKG_VERSION")))
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_per_read(Some(Duration::from_secs(120)))
        .max_idle_connections_per_host(8)
        .build()
        .new_agent()
}

/// Parse one `WWW-Authenticate` value: `Bearer realm="..",service="..",scope=".."`.
pub fn parse_challenge(h: &str) -> Option<Challenge> {
    let h = h.trim();
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = std::collections::HashMap::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let (k, r) = s.split_once('=')?;
        let k = k.trim().to_ascii_lowercase();
        let r = r.trim_start();
        let (v, r) = if let Some(r) = r.strip_prefix('"') {
            // quoted-string, with \" escapes
            let mut v = String::new();
            let mut it = r.char_indices();
            let mut end = None;
            while let Some((i, c)) = it.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = it.next() {
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => v.push(c),
                }
            }
            (v, &r[end?..])
        } else {
            let i = r.find(',').unwrap_or(r.len());
            (r[..i].trim().to_string(), &r[i..])
        };
        params.insert(k, v);
        s = r.trim_start().trim_start_matches(',').trim_start();
    }
    Some(Challenge::Bearer {
        realm: params.remove("realm")?,
        service: params.remove("service"),
        scope: params.remove("scope"),
    })
}

/// The registry's error, from its JSON body (`{"errors":[{"code","message"}]}`) or status.
fn describe(resp: Response<Body>) -> String {
    let status = resp.status();
    let mut body = resp.into_body();
    let text = body
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .unwrap_or_default();
    let from_json = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            let e = v.get("errors")?.get(0)?;
            let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
            let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
            Some(match (code, msg) {
                ("", m) => m.to_string(),
                (c, "") => c.to_string(),
                (c, m) => format!("{m} ({c})"),
            })
        });
    match from_json {
        Some(m) => m,
        None => format!(
            "HTTP {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
        .trim_end()
        .to_string(),
    }
}

impl Client {
    /// Find how to talk to the registry (`GET /v2/`): HTTPS, or plain HTTP where allowed;
    /// remember its auth challenge.
    pub fn connect(reference: &Reference, opts: &Options) -> Result<Client, Error> {
        let insecure = match opts.tls_verify {
            Some(v) => !v,
            None => reference.is_loopback(),
        };
        let host = reference.api_host().to_string();
        let verifying = agent(opts.tls_verify != Some(false));
        let agent_ = if insecure {
            agent(opts.tls_verify == Some(true))
        } else {
            verifying.clone()
        };
        let creds = opts.creds.clone().or_else(|| {
            auth::find(
                &reference.registry,
                &reference.repository,
                opts.authfile.as_deref(),
            )
        });
        let mut client = Client {
            agent: agent_,
            token_agent: if opts.tls_verify == Some(false) {
                agent(false)
            } else {
                verifying
            },
            base: format!("https://{host}"),
            reference: reference.clone(),
            creds,
            actions: if opts.push { "pull,push" } else { "pull" },
            authz: Mutex::new(None),
            extra_scopes: Mutex::new(Vec::new()),
        };
        let what = format!("registry {}", reference.registry);
        let resp = match client.agent.get(format!("{}/v2/", client.base)).call() {
            Ok(r) => r,
            Err(e) if insecure && !matches!(e, ureq::Error::HostNotFound) => {
                common::debug!("{what}: HTTPS failed ({e}); trying plain HTTP");
                client.base = format!("http://{host}");
                client
                    .agent
                    .get(format!("{}/v2/", client.base))
                    .call()
                    .map_err(|e| http_err(format!("cannot reach {what}"), e))?
            }
            Err(e) => return Err(http_err(format!("cannot reach {what}"), e)),
        };
        common::debug!("{what}: {} GET /v2/: {}", client.base, resp.status());
        match resp.status().as_u16() {
            200..=299 => {}
            401 => {
                let ch = Self::challenge_of(&resp);
                client.authenticate(ch.as_ref(), &what)?;
            }
            404 => {
                return Err(Error::msg(format!(
                    "{what}: {}/v2/ answers 404: not a registry (distribution API v2)",
                    client.base
                )));
            }
            _ => return Err(Error::msg(format!("{what}: GET /v2/: {}", describe(resp)))),
        }
        Ok(client)
    }

    fn challenge_of(resp: &Response<Body>) -> Option<Challenge> {
        resp.headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(parse_challenge)
            // Bearer first: a registry offering both prefers tokens
            .min_by_key(|c| matches!(c, Challenge::Basic))
    }

    /// Answer a challenge: Basic sends the credentials as they are; Bearer trades them (or
    /// nothing, anonymously) for a token at the realm.
    fn authenticate(&self, ch: Option<&Challenge>, what: &str) -> Result<(), Error> {
        let header = match ch {
            None => {
                return Err(Error::msg(format!(
                    "{what}: authentication required, but the registry names no method"
                )));
            }
            Some(Challenge::Basic) => match &self.creds {
                Some(c) => c.basic_header(),
                None => {
                    return Err(Error::msg(format!(
                        "{what}: authentication required: log in first (layermount login {})",
                        self.reference.registry
                    )));
                }
            },
            Some(Challenge::Bearer {
                realm,
                service,
                scope,
            }) => {
                let mut scopes = vec![format!(
                    "repository:{}:{}",
                    self.reference.repository, self.actions
                )];
                if let Some(s) = scope.as_ref().filter(|s| !scopes.contains(s)) {
                    scopes.push(s.clone());
                }
                if let Ok(x) = self.extra_scopes.lock() {
                    scopes.extend(x.iter().cloned());
                }
                let mut req = self.token_agent.get(realm);
                if let Some(s) = service {
                    req = req.query("service", s);
                }
                for s in &scopes {
                    req = req.query("scope", s);
                }
                if let Some(c) = &self.creds {
                    req = req.header("Authorization", c.basic_header());
                }
                let resp = req
                    .call()
                    .map_err(|e| http_err(format!("{what}: cannot get a token from {realm}"), e))?;
                match resp.status().as_u16() {
                    200..=299 => {}
                    401 | 403 => {
                        return Err(Error::msg(format!(
                            "{what}: authentication failed at {realm}: {}{}",
                            describe(resp),
                            if self.creds.is_none() {
                                " (no credentials: layermount login)"
                            } else {
                                ""
                            }
                        )));
                    }
                    _ => {
                        return Err(Error::msg(format!(
                            "{what}: token request to {realm}: {}",
                            describe(resp)
                        )));
                    }
                }
                let b = resp
                    .into_body()
                    .with_config()
                    .limit(1 << 20)
                    .read_to_vec()
                    .map_err(|e| http_err(format!("{what}: token from {realm}"), e))?;
                let v: serde_json::Value = serde_json::from_slice(&b).map_err(|e| Error::Json {
                    what: format!("{what}: token from {realm}"),
                    source: e,
                })?;
                let tok = v
                    .get("token")
                    .or_else(|| v.get("access_token"))
                    .and_then(|t| t.as_str())
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| {
                        Error::msg(format!("{what}: the answer from {realm} has no token"))
                    })?;
                format!("Bearer {tok}")
            }
        };
        if let Ok(mut a) = self.authz.lock() {
            *a = Some(header);
        }
        Ok(())
    }

    /// Ask for pull rights on `repo` too (for a cross-repository mount): taken into the
    /// next token.
    pub fn add_pull_scope(&self, repo: &str) {
        if let Ok(mut x) = self.extra_scopes.lock() {
            let s = format!("repository:{repo}:pull");
            if !x.contains(&s) {
                x.push(s);
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/v2/{}/{path}", self.base, self.reference.repository)
    }

    /// Send a request (built by `f` from the URL and the Authorization header); on a 401,
    /// answer its challenge once and send it again.
    pub fn send(&self, what: &str, url: &str, f: Sender) -> Result<Response<Body>, Error> {
        let mut retried = false;
        loop {
            let authz = self.authz.lock().ok().and_then(|a| a.clone());
            let resp = f(&self.agent, url, authz.as_deref()).map_err(|e| http_err(what, e))?;
            if resp.status().as_u16() != 401 || retried {
                return Ok(resp);
            }
            retried = true;
            let ch = Self::challenge_of(&resp);
            self.authenticate(ch.as_ref(), what)?;
        }
    }

    pub fn get(&self, what: &str, path: &str, accept: &[&str]) -> Result<Response<Body>, Error> {
        let accept = accept.join(", ");
        self.send(what, &self.url(path), &|a, url, authz| {
            let mut r = a.get(url);
            if !accept.is_empty() {
                r = r.header("Accept", &accept);
            }
            if let Some(z) = authz {
                r = r.header("Authorization", z);
            }
            r.call()
        })
    }

    /// A manifest (or index) by tag or digest: its bytes, media type and digest.
    pub fn manifest(&self, object: &str) -> Result<(Vec<u8>, String, String), Error> {
        let what = format!("{}/{}", self.reference.registry, self.reference.repository);
        let what = if object.starts_with("sha256:") {
            format!("{what}@{object}")
        } else {
            format!("{what}:{object}")
        };
        let resp = self.get(&what, &format!("manifests/{object}"), MANIFEST_TYPES)?;
        let status = resp.status().as_u16();
        if status == 404 {
            return Err(Error::NoImage(format!("{what}: {}", describe(resp))));
        }
        if !(200..300).contains(&status) {
            return Err(Error::msg(format!("{what}: {}", describe(resp))));
        }
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let bytes = resp
            .into_body()
            .with_config()
            .limit(8 << 20)
            .read_to_vec()
            .map_err(|e| http_err(format!("{what}: manifest"), e))?;
        let digest = crate::digest::sha256_bytes(&bytes);
        Ok((bytes, ct, digest))
    }

    /// A blob as a stream (the caller checks its digest); `what` names it in errors.
    pub fn blob(&self, digest: &str, what: &str) -> Result<Box<dyn Read + Send>, Error> {
        let what = format!("{what}: blob {digest}");
        let resp = self.get(&what, &format!("blobs/{digest}"), &[])?;
        if !resp.status().is_success() {
            return Err(Error::msg(format!("{what}: {}", describe(resp))));
        }
        Ok(Box::new(resp.into_body().into_reader()))
    }

    /// Whether the registry has blob `digest` in this repository.
    pub fn has_blob(&self, digest: &str) -> Result<bool, Error> {
        let what = format!(
            "{}/{}: blob {digest}",
            self.reference.registry, self.reference.repository
        );
        let resp = self.send(&what, &self.url(&format!("blobs/{digest}")), &|a, u, z| {
            let mut r = a.head(u);
            if let Some(z) = z {
                r = r.header("Authorization", z);
            }
            r.call()
        })?;
        match resp.status().as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            _ => Err(Error::msg(format!("{what}: {}", describe(resp)))),
        }
    }

    /// Check the credentials (for `login`): a registry asking for Basic auth must accept them
    /// at `/v2/`; one using tokens must have handed one out for them.
    pub fn verify_login(&self) -> Result<(), Error> {
        let what = format!("registry {}", self.reference.registry);
        let Some(c) = &self.creds else {
            return Err(Error::Usage("no credentials given".into()));
        };
        let authz = self.authz.lock().ok().and_then(|a| a.clone());
        match authz {
            Some(a) if a.starts_with("Bearer ") => Ok(()),
            Some(_) => {
                let resp = self
                    .agent
                    .get(format!("{}/v2/", self.base))
                    .header("Authorization", c.basic_header())
                    .call()
                    .map_err(|e| http_err(what.clone(), e))?;
                match resp.status().as_u16() {
                    200..=299 => Ok(()),
                    401 | 403 => Err(Error::msg(format!(
                        "{what}: login as {} refused: {}",
                        c.username,
                        describe(resp)
                    ))),
                    _ => Err(Error::msg(format!("{what}: GET /v2/: {}", describe(resp)))),
                }
            }
            // no authentication asked for: nothing to check against
            None => Ok(()),
        }
    }

    fn location(&self, resp: &Response<Body>, what: &str) -> Result<String, Error> {
        let loc = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::msg(format!("{what}: the registry gave no upload location")))?;
        Ok(if loc.starts_with('/') {
            format!("{}{loc}", self.base)
        } else {
            loc.to_string()
        })
    }

    /// Start an upload of `digest`, or mount it from repository `from` of the same registry;
    /// `None` when the mount did it.
    fn start_upload(
        &self,
        digest: &str,
        from: Option<&str>,
        what: &str,
    ) -> Result<Option<String>, Error> {
        let mut path = "blobs/uploads/".to_string();
        if let Some(f) = from {
            path = format!("blobs/uploads/?mount={digest}&from={f}");
        }
        let resp = self.send(what, &self.url(&path), &|a, u, z| {
            let mut r = a.post(u);
            if let Some(z) = z {
                r = r.header("Authorization", z);
            }
            r.send_empty()
        })?;
        match resp.status().as_u16() {
            201 if from.is_some() => Ok(None),
            202 => Ok(Some(self.location(&resp, what)?)),
            _ => Err(Error::msg(format!(
                "{what}: start an upload: {}",
                describe(resp)
            ))),
        }
    }

    /// Mount blob `digest` from repository `from` of the same registry; false when the
    /// registry would not (the upload it opened instead is cancelled).
    pub fn mount_blob(&self, digest: &str, from: &str, what: &str) -> Result<bool, Error> {
        self.add_pull_scope(from);
        match self.start_upload(digest, Some(from), what)? {
            None => Ok(true),
            Some(loc) => {
                let _ = self.send(what, &loc, &|a, u, z| {
                    let mut r = a.delete(u);
                    if let Some(z) = z {
                        r = r.header("Authorization", z);
                    }
                    r.call()
                });
                Ok(false)
            }
        }
    }

    /// Upload blob `digest` from `open()` in one PUT, unless the repository has it.
    /// Returns whether it was sent.
    pub fn put_blob(
        &self,
        digest: &str,
        open: &dyn Fn() -> std::io::Result<std::fs::File>,
        what: &str,
    ) -> Result<bool, Error> {
        if self.has_blob(digest)? {
            return Ok(false);
        }
        let Some(loc) = self.start_upload(digest, None, what)? else {
            return Ok(false);
        };
        let sep = if loc.contains('?') { '&' } else { '?' };
        let url = format!("{loc}{sep}digest={digest}");
        let resp = self.send(what, &url, &|a, u, z| {
            let f = open().map_err(ureq::Error::Io)?;
            let mut r = a.put(u).header("Content-Type", "application/octet-stream");
            if let Some(z) = z {
                r = r.header("Authorization", z);
            }
            r.send(f)
        })?;
        if !resp.status().is_success() {
            return Err(Error::msg(format!("{what}: upload: {}", describe(resp))));
        }
        Ok(true)
    }

    /// Store a manifest under `tag` (or its digest).
    pub fn put_manifest(
        &self,
        tag: &str,
        media_type: &str,
        bytes: &[u8],
        what: &str,
    ) -> Result<(), Error> {
        let resp = self.send(what, &self.url(&format!("manifests/{tag}")), &|a, u, z| {
            let mut r = a.put(u).header("Content-Type", media_type);
            if let Some(z) = z {
                r = r.header("Authorization", z);
            }
            r.send(bytes)
        })?;
        if !resp.status().is_success() {
            return Err(Error::msg(format!("{what}: manifest: {}", describe(resp))));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull".into()),
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge(r#"bearer realm=http://x/t, service="a\"b""#),
            Some(Challenge::Bearer {
                realm: "http://x/t".into(),
                service: Some("a\"b".into()),
                scope: None,
            })
        );
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge(r#"Bearer service="x""#), None);
        assert_eq!(parse_challenge(r#"Bearer realm="unterminated"#), None);
    }
}
