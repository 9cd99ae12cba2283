"""CloudFront answers every behaviour with the local gateway's security headers; the cloud
API serves no Swagger page."""

from __future__ import annotations

import pytest
from conftest import NODE, SKIP_REASON

if NODE is None:
    pytest.skip(SKIP_REASON, allow_module_level=True)

import json
from typing import Any

from conftest import Synth

from strikeboard import headers


def _of(synth: Synth, stack: str, kind: str) -> list[dict[str, Any]]:
    found = synth.templates[f"Strikeboard{stack}"]["Resources"].values()
    return [r["Properties"] for r in found if r["Type"] == kind]


def test_every_behaviour_has_the_security_headers_policy(synth: Synth) -> None:
    [policy] = _of(synth, "Web", "AWS::CloudFront::ResponseHeadersPolicy")
    config = policy["ResponseHeadersPolicyConfig"]
    security = config["SecurityHeadersConfig"]
    csp = security["ContentSecurityPolicy"]
    # The CSP is the gateway's, with the Cognito hosted domain (another stack's) in
    # connect-src: a join of the policy's text around that reference.
    text = json.dumps(csp["ContentSecurityPolicy"])
    for directive in ("default-src 'self'", "script-src 'self';", "frame-ancestors 'none'",
                      "object-src 'none'", "connect-src 'self' "):  # fmt: skip
        assert directive in text, directive
    assert "unsafe-inline" not in text and "jsdelivr" not in text
    assert "Fn::ImportValue" in text or "Ref" in text, "no Cognito domain in connect-src"
    assert csp["Override"] is True
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["FrameOptions"] == {"FrameOption": headers.HEADERS["X-Frame-Options"],
                                        "Override": True}  # fmt: skip
    assert security["ReferrerPolicy"] == {
        "ReferrerPolicy": headers.HEADERS["Referrer-Policy"], "Override": True}  # fmt: skip
    hsts = security["StrictTransportSecurity"]
    assert hsts["AccessControlMaxAgeSec"] == headers.HSTS_MAX_AGE_S and hsts["IncludeSubdomains"]
    custom = {h["Header"]: h["Value"] for h in config["CustomHeadersConfig"]["Items"]}
    assert custom == headers.CUSTOM

    [dist] = _of(synth, "Web", "AWS::CloudFront::Distribution")
    behaviours = [dist["DistributionConfig"]["DefaultCacheBehavior"],
                  *dist["DistributionConfig"]["CacheBehaviors"]]  # fmt: skip
    assert len(behaviours) == 3
    ids = {json.dumps(b.get("ResponseHeadersPolicyId")) for b in behaviours}
    assert len(ids) == 1 and "null" not in ids, ids


def test_the_cloud_api_has_no_swagger_page(synth: Synth) -> None:
    functions = _of(synth, "Api", "AWS::Lambda::Function")
    http = [f for f in functions
            if f.get("ImageConfig", {}).get("Command") == ["lambdas.http_api.handler"]]  # fmt: skip
    assert http and all(f["Environment"]["Variables"]["API_DOCS"] == "false" for f in http)
