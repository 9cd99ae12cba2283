"""cdk-nag (AwsSolutions) and cfn-lint over the synthesized app."""

from __future__ import annotations

import pytest
from conftest import NODE, SKIP_REASON

if NODE is None:
    pytest.skip(SKIP_REASON, allow_module_level=True)

import json

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from cfnlint.api import lint_file
from conftest import Synth

from infra.nag import add_checks

# cfn-lint warnings CDK's own constructs produce (explicit DependsOn next to a GetAtt; the
# CloudFront log bucket's ACL, which CloudFront standard logging requires).
ALLOWED_WARNINGS = {"W3005", "W3045"}


def test_nag_has_no_unacknowledged_finding(synth: Synth) -> None:
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    plugins = {p["pluginName"]: p for p in report["pluginReports"]}
    assert all(p["conclusion"] == "success" for p in plugins.values())
    plugin = plugins["AwsSolutions"]
    assert plugin["violations"] == []
    for acknowledged in plugin["suppressedViolations"]:
        assert len(acknowledged["reason"]) > 20, acknowledged["ruleName"]


def test_nag_fails_synthesis_on_a_finding(tmp_path: pytest.TempPathFactory) -> None:
    """The checks are live: an unencrypted, unlogged bucket stops synthesis."""
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Bad")
    s3.Bucket(stack, "Plain")
    add_checks(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    [nag] = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    rules = {v["ruleName"] for v in nag["violations"]}
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= rules


def test_cfn_lint_passes(synth: Synth) -> None:
    files = sorted(synth.outdir.glob("*.template.json"))
    assert len(files) == 7
    problems = [
        f"{path.name}: {match.rule.id} {match.message}"
        for path in files
        for match in lint_file(path)
        if match.rule.id not in ALLOWED_WARNINGS
    ]
    assert not problems, "\n".join(problems)
