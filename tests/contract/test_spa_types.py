"""The SPA's API types against the API: web/openapi.json is the schema `create_app` makes
now, and web/src/api/schema.gen.ts is what openapi-typescript makes of it (scripts/api_types.py).
A route or model changed without `npm run api:types` fails here; `npm run build` then
type-checks the SPA against the regenerated types."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _api_types() -> ModuleType:
    spec = importlib.util.spec_from_file_location("api_types", ROOT / "scripts" / "api_types.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


api_types = _api_types()
# On CI (node_modules installed by `make test`) a missing generator is a failure, not a skip.
needs_generator = pytest.mark.skipif(
    not api_types.GENERATOR.exists() and shutil.which("npm") is None and not os.environ.get("CI"),
    reason="npm is not installed",
)


def test_the_committed_schema_is_the_apis() -> None:
    committed = json.loads(api_types.SCHEMA.read_text(encoding="utf-8"))
    current = api_types.schema()
    changed = sorted(
        set(committed["paths"]) ^ set(current["paths"])
        | {p for p in set(committed["paths"]) & set(current["paths"])
           if committed["paths"][p] != current["paths"][p]}
        | {f"#/components/schemas/{n}" for n in set(committed["components"]["schemas"])
           | set(current["components"]["schemas"])
           if committed["components"]["schemas"].get(n) != current["components"]["schemas"].get(n)}
    )  # fmt: skip
    assert committed == current, f"changed: {changed}; regenerate: cd web && npm run api:types"
    assert api_types.SCHEMA.read_text(encoding="utf-8") == api_types.schema_text()


def test_the_schema_does_not_depend_on_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNDERLYINGS", "SENSEX")
    monkeypatch.setenv("API_DOCS", "true")
    assert api_types.schema_text() == api_types.SCHEMA.read_text(encoding="utf-8")


@needs_generator
def test_the_generated_types_are_the_schemas() -> None:
    if not api_types.GENERATOR.exists():
        pytest.fail(f"{api_types.GENERATOR} is missing: npm ci in web/")
    generated = api_types.generate(api_types.SCHEMA)
    assert api_types.TYPES.read_text(encoding="utf-8") == generated, (
        "web/src/api/schema.gen.ts is not what openapi-typescript makes of web/openapi.json: "
        "cd web && npm run api:types"
    )


@needs_generator
def test_a_changed_model_is_drift(tmp_path: Path) -> None:
    """The check can fail: a field more in a model gives other types."""
    schema = json.loads(api_types.SCHEMA.read_text(encoding="utf-8"))
    schema["components"]["schemas"]["Gex"]["properties"]["extra_field"] = {"type": "number"}
    changed = tmp_path / "openapi.json"
    changed.write_text(json.dumps(schema), encoding="utf-8")
    generated = api_types.generate(changed)
    assert "extra_field" in generated
    assert generated != api_types.TYPES.read_text(encoding="utf-8")
