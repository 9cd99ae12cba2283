"""A local stand-in for Cognito's hosted UI and token endpoint, for the sign-in browser test.

Speaks the parts of OAuth 2.0 / OIDC the SPA and the API use, as Cognito does:

- `GET /oauth2/authorize` (code flow, PKCE S256 required): a login form; submitting it
  redirects to `redirect_uri?code=...&state=...` (`?auto=1` skips the form);
- `POST /oauth2/token` (form): `authorization_code` (checks client, redirect_uri and the PKCE
  verifier) and `refresh_token` grants; RS256 access tokens (`client_id`, `token_use=access`,
  `username`, `cognito:groups`) and ID tokens (`aud`, `email`), `--access-ttl` seconds;
  CORS as Cognito's (the SPA calls it from another origin);
- `GET /.well-known/jwks.json` (the API verifies the tokens with it; `iss` = this server);
- `GET /logout?client_id=&logout_uri=`: redirects to logout_uri;
- `GET /_standin/log`: the grants served so far (the test asserts a silent refresh happened).

Run: `python tests/e2e/oauth_standin.py --port 0 --client-id ID --redirect-uri URL`; it prints
`oauth stand-in listening on http://127.0.0.1:PORT` once ready. Never for production use.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import html
import json
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

KID = "standin-1"


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    username: str


@dataclass
class Standin:
    issuer: str
    client_id: str
    redirect_uris: set[str]
    logout_uris: set[str]
    access_ttl_s: int
    groups: list[str]
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    codes: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # token -> username
    log: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": KID, "alg": "RS256", "use": "sig"}]}

    def tokens(self, username: str, *, with_refresh: bool) -> dict[str, Any]:
        now = int(time.time())
        sub = hashlib.sha256(username.encode()).hexdigest()[:32]
        common = {
            "iss": self.issuer,
            "sub": sub,
            "iat": now,
            "auth_time": now,
            "exp": now + self.access_ttl_s,
            "cognito:groups": self.groups,
        }
        access = {
            **common,
            "token_use": "access",
            "client_id": self.client_id,
            "username": username,
            "scope": "openid email profile",
            "jti": secrets.token_hex(8),
        }
        ident = {
            **common,
            "token_use": "id",
            "aud": self.client_id,
            "cognito:username": username,
            "email": f"{username}@example.test",
        }

        def sign(claims: dict[str, Any]) -> str:
            return jwt.encode(claims, self.key, "RS256", headers={"kid": KID})

        body: dict[str, Any] = {
            "access_token": sign(access),
            "id_token": sign(ident),
            "token_type": "Bearer",
            "expires_in": self.access_ttl_s,
        }
        if with_refresh:
            refresh = secrets.token_urlsafe(32)
            self.refresh_tokens[refresh] = username
            body["refresh_token"] = refresh
        return body

    def token_grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant_type = form.get("grant_type", "")
        with self.lock:
            if form.get("client_id") != self.client_id:
                return 400, {"error": "invalid_client"}
            if grant_type == "authorization_code":
                grant = self.codes.pop(form.get("code", ""), None)  # one use
                if grant is None or grant.redirect_uri != form.get("redirect_uri"):
                    return self._logged(grant_type, 400, {"error": "invalid_grant"})
                digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
                    return self._logged(grant_type, 400, {"error": "invalid_grant"})
                return self._logged(grant_type, 200, self.tokens(grant.username, with_refresh=True))
            if grant_type == "refresh_token":
                username = self.refresh_tokens.get(form.get("refresh_token", ""))
                if username is None:
                    return self._logged(grant_type, 400, {"error": "invalid_grant"})
                # As Cognito without rotation: new access and ID tokens, the same refresh token.
                return self._logged(grant_type, 200, self.tokens(username, with_refresh=False))
        return 400, {"error": "unsupported_grant_type"}

    def _logged(self, grant: str, status: int, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.log.append({"grant_type": grant, "status": status, "at": time.time()})
        return status, body


LOGIN_FORM = """<!doctype html><html><head><title>Sign in (stand-in)</title></head>
<body style="font-family: sans-serif; max-width: 24em; margin: 4em auto">
<h1>Sign in</h1><p>Local OAuth stand-in of the hosted UI (tests only).</p>
<form method="post" action="/oauth2/authorize?{query}">
<label>Username <input name="username" value="" autocomplete="off" required></label>
<button type="submit">Sign in</button></form></body></html>"""


def make_handler(standin: Standin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the test prints what matters

        def _send(
            self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, doc: Any, extra: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(doc).encode(), "application/json", extra)

        def _redirect(self, url: str) -> None:
            self._send(302, b"", "text/plain", {"Location": url})

        def _query(self) -> dict[str, str]:
            return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}

        def _authorize_params(self) -> dict[str, str] | str:
            q = self._query()
            if q.get("client_id") != standin.client_id:
                return "unknown client_id"
            if q.get("redirect_uri") not in standin.redirect_uris:
                return "redirect_uri is not a callback URL of this client"
            if q.get("response_type") != "code":
                return "response_type must be code"
            if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
                return "PKCE with S256 is required"
            return q

        def _approve(self, q: dict[str, str], username: str) -> None:
            code = secrets.token_urlsafe(24)
            with standin.lock:
                standin.codes[code] = Grant(
                    q["client_id"], q["redirect_uri"], q["code_challenge"], username
                )
            back = {"code": code, **({"state": q["state"]} if "state" in q else {})}
            self._redirect(f"{q['redirect_uri']}?{urlencode(back)}")

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/.well-known/jwks.json":
                self._json(200, standin.jwks())
            elif path == "/oauth2/authorize":
                q = self._authorize_params()
                if isinstance(q, str):
                    self._send(400, html.escape(q).encode(), "text/plain")
                elif q.get("auto") == "1":
                    self._approve(q, "e2e-user")
                else:
                    query = html.escape(urlsplit(self.path).query)
                    self._send(200, LOGIN_FORM.format(query=query).encode(), "text/html")
            elif path == "/logout":
                q = self._query()
                if (
                    q.get("client_id") != standin.client_id
                    or q.get("logout_uri") not in standin.logout_uris
                ):
                    self._send(
                        400, b"logout_uri is not a sign-out URL of this client", "text/plain"
                    )
                else:
                    with standin.lock:
                        standin.log.append({"logout": True, "at": time.time()})
                    self._redirect(q["logout_uri"])
            elif path == "/_standin/log":
                with standin.lock:
                    self._json(200, list(standin.log))
            else:
                self._send(404, b"not found", "text/plain")

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if path == "/oauth2/authorize":
                q = self._authorize_params()
                if isinstance(q, str) or not form.get("username"):
                    self._send(400, b"bad sign-in request", "text/plain")
                else:
                    self._approve(q, form["username"])
            elif path == "/oauth2/token":
                status, body = standin.token_grant(form)
                origin = self.headers.get("Origin")
                self._json(
                    status, body, {"Access-Control-Allow-Origin": origin} if origin else None
                )
            else:
                self._send(404, b"not found", "text/plain")

        def do_OPTIONS(self) -> None:
            # Preflight (a form POST needs none, but a client may send one anyway).
            self._send(
                204,
                b"",
                "text/plain",
                {
                    "Access-Control-Allow-Origin": self.headers.get("Origin") or "*",
                    "Access-Control-Allow-Methods": "POST",
                    "Access-Control-Allow-Headers": "Content-Type, Authorization",
                },
            )

    return Handler


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--client-id", required=True)
    p.add_argument("--redirect-uri", action="append", required=True, help="allowed callback URL")
    p.add_argument("--logout-uri", action="append", default=[], help="allowed sign-out URL")
    p.add_argument("--access-ttl", type=int, default=3600, help="token lifetime (s)")
    p.add_argument("--group", action="append", default=[], help="cognito:groups of the user")
    args = p.parse_args(argv)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), BaseHTTPRequestHandler)
    issuer = f"http://127.0.0.1:{server.server_address[1]}"
    standin = Standin(
        issuer,
        args.client_id,
        set(args.redirect_uri),
        set(args.logout_uri),
        args.access_ttl,
        args.group,
    )
    server.RequestHandlerClass = make_handler(standin)
    print(f"oauth stand-in listening on {issuer}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
