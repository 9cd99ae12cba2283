"""Synthesize the CDK app once per session (no AWS account, no Docker: images are only
staged at synthesis, built by `cdk deploy`). Needs Node.js (the jsii runtime)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

NODE = shutil.which("node")
SKIP_REASON = "Node.js is not installed: the CDK (jsii) runtime needs `node` to synthesize"


@dataclass
class Synth:
    app: Any  # infra.app.Strikeboard
    outdir: Path
    templates: dict[str, dict[str, Any]]  # stack name -> CloudFormation template


TEST_CONTEXT = {
    "kite_api_key": "testkey",
    "kite_api_secret_name": "strikeboard/kite-api-secret",
    "underlyings": "nifty,SENSEX",
}


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    from infra.app import build_app  # noqa: PLC0415  (test modules skip first without node)

    dist = tmp_path_factory.mktemp("dist")
    (dist / "index.html").write_text("<!doctype html><title>Strikeboard</title>")
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = build_app({**TEST_CONTEXT, "web_dist": str(dist)}, outdir=str(outdir))
    assembly = app.app.synth()  # raises if cdk-nag finds anything unacknowledged
    templates = {
        stack.stack_name: json.loads(Path(stack.template_full_path).read_text())
        for stack in assembly.stacks
    }
    yield Synth(app=app, outdir=outdir, templates=templates)
