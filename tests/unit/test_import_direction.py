"""Dependencies point inward: the entry points (`lambdas`, `feed_container`) import the library,
never the other way round. The local gateway is handed the Lambdas' app and handler by its entry
point (`strikeboard dev` names them on the gateway's command line); no `strikeboard` module
imports them."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "strikeboard"
ENTRY_POINTS = ("lambdas", "feed_container")

IMPORT_ALL = """
import importlib, json, pkgutil, sys
import strikeboard
names = [m.name for m in pkgutil.walk_packages(strikeboard.__path__, "strikeboard.")
         if not m.name.endswith("__main__")]  # a __main__ runs its command when imported
for name in names:
    importlib.import_module(name)
loaded = {m.split(".")[0] for m in sys.modules}
print(json.dumps({"imported": len(names), "entry_points": sorted(loaded & set(sys.argv[1:]))}))
"""


def _is_entry_point(module: str) -> bool:
    return module.split(".", maxsplit=1)[0] in ENTRY_POINTS


def entry_point_imports(source: str) -> list[str]:
    """The entry-point modules a source file imports: `import`, `from ... import`, and
    `importlib.import_module` / `__import__` of a literal name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _is_entry_point(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if _is_entry_point(node.module):
                found.append(node.module)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if (name in ("import_module", "__import__") and isinstance(first, ast.Constant)
                    and isinstance(first.value, str) and _is_entry_point(first.value)):  # fmt: skip
                found.append(first.value)
    return found


def test_the_scan_sees_every_form_of_import() -> None:
    """The check below can fail: each form of import is found, a mere mention is not."""
    source = (
        "import lambdas.ws\nfrom lambdas import http_api\nfrom feed_container.factory import x\n"
        "import importlib\nimportlib.import_module('lambdas.jobs')\n__import__('lambdas')\n"
        "from strikeboard import lambdas_like\nDOC = 'lambdas.http_api:app'\n"
    )
    assert entry_point_imports(source) == [
        "lambdas.ws", "lambdas", "feed_container.factory", "lambdas.jobs", "lambdas",
    ]  # fmt: skip


def test_no_strikeboard_module_imports_an_entry_point() -> None:
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in sorted(PACKAGE.rglob("*.py"))
        if (found := entry_point_imports(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_importing_every_strikeboard_module_loads_no_entry_point() -> None:
    """The same at run time, in a clean interpreter: every module of the package imported,
    `lambdas` and `feed_container` are still not loaded."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT),
           "POWERTOOLS_METRICS_DISABLED": "true"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, *ENTRY_POINTS],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
        timeout=600,  # a hang guard only: the imports take seconds
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["imported"] > 50
    assert result["entry_points"] == []
