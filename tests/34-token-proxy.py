#!/usr/bin/env python3
"""34-token-proxy.py PORT_FILE UPSTREAM USER:PASSWORD LOG

A registry front that asks for Bearer tokens, the way Docker Hub does, for
tests/34-layermount-registry.bats: /v2/... without a valid token answers 401 with
`WWW-Authenticate: Bearer realm=".../token",service="ctrkit-test",scope="repository:REPO:pull"`;
/token hands out a token for Basic USER:PASSWORD (401 otherwise) naming the scopes asked
for; a request with a token whose scopes cover its repository is passed to UPSTREAM (the
real registry, plain HTTP) and its answer streamed back. Each token request is logged to LOG
as one line: `token user=U scope=S...`. Listens on a free 127.0.0.1 port, written to
PORT_FILE. GET and HEAD only (pulls).
"""
import base64
import http.client
import http.server
import secrets
import sys
import urllib.parse

port_file, upstream, creds, log_path = sys.argv[1:5]
tokens = {}  # token -> set of "repository:NAME:ACTION"


def log(line):
    with open(log_path, "a") as f:
        f.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def token(self, url):
        q = urllib.parse.parse_qs(url.query)
        auth = self.headers.get("Authorization", "")
        user = None
        if auth.startswith("Basic "):
            u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
            if f"{u}:{p}" == creds:
                user = u
        if user is None:
            log("token refused")
            return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}')
        scopes = q.get("scope", [])
        log(f"token user={user} service={q.get('service', [''])[0]} scope={' '.join(scopes)}")
        t = secrets.token_hex(16)
        granted = set()
        for s in scopes:
            kind, _, rest = s.partition(":")
            name, _, actions = rest.rpartition(":")
            for a in actions.split(","):
                granted.add(f"{kind}:{name}:{a}")
        tokens[t] = granted
        body = ('{"token":"%s","expires_in":300}' % t).encode()
        self.reply(200, body, [("Content-Type", "application/json")])

    def challenge(self, repo):
        realm = f"http://127.0.0.1:{self.server.server_port}/token"
        scope = f',scope="repository:{repo}:pull"' if repo else ""
        self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"token required"}]}',
                   [("WWW-Authenticate", f'Bearer realm="{realm}",service="ctrkit-test"{scope}')])

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/token":
            return self.token(url)
        if not url.path.startswith("/v2/"):
            return self.reply(404)
        rest = url.path[4:]
        repo = ""
        for marker in ("/manifests/", "/blobs/", "/tags/"):
            if marker in rest:
                repo = rest.split(marker)[0]
        auth = self.headers.get("Authorization", "")
        granted = tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
        if granted is None or (repo and f"repository:{repo}:pull" not in granted):
            return self.challenge(repo)
        c = http.client.HTTPConnection(upstream)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() in ("accept", "range")}
        c.request(self.command, self.path, headers=hdrs)
        r = c.getresponse()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("connection", "transfer-encoding"):
                self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            while True:
                b = r.read(1 << 16)
                if not b:
                    break
                self.wfile.write(b)
        c.close()

    do_HEAD = do_GET


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_port))
import os  # noqa: E402

os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
