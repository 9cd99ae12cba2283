"""Security headers of every response: the SPA, its assets and the API (docs/security.md).

One definition for the local gateway (`strikeboard.gateway.app.security_headers`) and the
cloud (CloudFront's response-headers policy in `infra.stacks.web`). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

DOCS_PATH = "/api/docs"

HSTS_MAX_AGE_S = 63_072_000
HSTS = f"max-age={HSTS_MAX_AGE_S}; includeSubDomains"
"""Sent over https only (CloudFront; a plain-http local gateway must not pin https)."""

CUSTOM: dict[str, str] = {
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
"""Headers CloudFront's policy sets as custom ones (it has no field of its own for them)."""

HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    **CUSTOM,
}
"""Every response, the CSP aside."""


def content_security_policy(connect: Iterable[str] = (), *, docs: bool = False) -> str:
    """The SPA's policy: its own scripts and styles only (Vite emits no inline code; React's
    style props go through the CSSOM, which CSP does not govern), data: images (the
    favicon), fetches and WebSockets to its own origin ('self' covers ws/wss of the same
    host in CSP 3) plus ``connect`` (the Cognito hosted domain, whose token endpoint the SPA
    POSTs to), no plugins, no framing, no <base>, forms only to itself.

    ``docs``: FastAPI's Swagger page (local only: API_DOCS) loads swagger-ui from jsDelivr
    and starts it with an inline script; its policy allows exactly that, on that page."""
    script = "'self' https://cdn.jsdelivr.net 'unsafe-inline'" if docs else "'self'"
    style = "'self' https://cdn.jsdelivr.net" if docs else "'self'"
    image = "'self' data: https://fastapi.tiangolo.com" if docs else "'self' data:"
    directives = {
        "default-src": "'self'",
        "script-src": script,
        "style-src": style,
        "img-src": image,
        "font-src": "'self'",
        "connect-src": " ".join(["'self'", *(o.rstrip("/") for o in connect if o)]),
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())
