"""Lambda cold start: each handler's import and the first ``?convention=nse`` request, in fresh
interpreters, this tree beside the previous commit measured in the same run.

The previous commit (``--baseline``, default a4cba6a: the handlers before issue 11) is
extracted by `previous.checkout` and run by the same interpreter and locked packages; runs of
the two trees alternate, so both see the same load. Target (issue 11): each handler imports in
under 1.5 s on this machine.

- import: ``importlib.import_module`` of the handler module, timed inside a fresh interpreter
  with a deployed function's settings (median of RUNS, after one untimed run of each tree that
  writes its bytecode caches). Wall time, and CPU time: on this shared machine the wall time
  also holds the wait for a core, the CPU time is close to the wall time on an idle one.
- first NSE request: a fresh interpreter imports `lambdas.http_api` and calls its `handler` once
  with an API Gateway event for GET /api/chain/{expiry}?convention=nse (every strike re-priced),
  over Redis holding the real snapshots `bench_api.publish_market` writes; an empty numba cache
  each run, as in a new Lambda container (median of REQUEST_RUNS). API Gateway gives up at 30 s.

Uses REDIS_URL / DATABASE_URL when set, otherwise private servers (strikeboard.devservices).
Run: uv run python bench/bench_imports.py [--baseline REV]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from bench_api import drop_keys, publish_market
from previous import ROOT, checkout, python_env

from strikeboard import devservices
from strikeboard.store.hot import HotStore

HANDLERS = ("lambdas.http_api", "lambdas.ws", "lambdas.jobs")
HEAVY = ("numba", "llvmlite", "scipy", "twisted", "autobahn", "kiteconnect")
RUNS = 7
REQUEST_RUNS = 3
TARGET_S = 1.5

# argv: module, heavy packages (comma-separated), then optionally an event file to handle.
CHILD = """
import importlib, json, sys, time, types
started, cpu = time.perf_counter(), time.process_time()
module = importlib.import_module(sys.argv[1])
result = {"import_s": time.perf_counter() - started, "import_cpu_s": time.process_time() - cpu,
          "file": module.__file__,
          "heavy": sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[2].split(",")))}
if len(sys.argv) > 3:
    event = json.loads(open(sys.argv[3]).read())
    context = types.SimpleNamespace(
        function_name="bench", function_version="$LATEST", memory_limit_in_mb=1024,
        invoked_function_arn="arn:aws:lambda:ap-south-1:123456789012:function:bench",
        aws_request_id="bench", get_remaining_time_in_millis=lambda: 30_000)
    started, cpu = time.perf_counter(), time.process_time()
    response = module.handler(event, context)
    result["request_s"] = time.perf_counter() - started
    result["request_cpu_s"] = time.process_time() - cpu
    result["status"] = response["statusCode"]
    result["bytes"] = len(response.get("body") or "")
print("RESULT " + json.dumps(result))
"""


Result = dict[str, Any]


def measure(tree: Path, env: dict[str, str], module: str, event: Path | None = None) -> Result:
    """One fresh interpreter in ``tree``: its figures (the RESULT line; Powertools logs too)."""
    with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
        args = [sys.executable, "-c", CHILD, module, ",".join(HEAVY)]
        done = subprocess.run(
            [*args, *([str(event)] if event else [])],
            cwd=tree, env={**python_env(tree, **env), "NUMBA_CACHE_DIR": cache},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{module} in {tree} failed:\n{done.stderr[-2000:]}")
    result: Result = json.loads(lines[-1].removeprefix("RESULT "))
    if not result["file"].startswith(str(tree)):
        raise SystemExit(f"{module} came from {result['file']}, not {tree}")
    return result


def _median(results: list[Result], key: str) -> float:
    return statistics.median(r[key] for r in results)


def print_imports(trees: dict[str, Path], env: dict[str, str]) -> None:
    """A row per handler: median wall and CPU seconds of its import in each tree."""
    names = list(trees)
    print(f"{'import (wall, CPU)':<18} {names[0]:>16} {names[1]:>16}   heavy packages loaded")
    for module in HANDLERS:
        runs: dict[str, list[Result]] = {name: [] for name in trees}
        for tree in trees.values():
            measure(tree, env, module)  # writes __pycache__, as a built image has
        for _ in range(RUNS):
            for name, tree in trees.items():
                runs[name].append(measure(tree, env, module))
        cells = [f"{_median(r, 'import_s'):5.2f} s, {_median(r, 'import_cpu_s'):4.2f} s"
                 for r in runs.values()]  # fmt: skip
        heavy = [",".join(r[0]["heavy"]) or "none" for r in runs.values()]
        print(f"{module:<18} {cells[0]:>16} {cells[1]:>16}   {heavy[0]} (was {heavy[1]})")


def print_first_nse_request(trees: dict[str, Path], env: dict[str, str], event: Path) -> None:
    """Per tree: a fresh process's import plus its first NSE chain request (median)."""
    print(f"first GET /api/chain/{{expiry}}?convention=nse, fresh process, empty numba cache "
          f"(median of {REQUEST_RUNS}):")  # fmt: skip
    for name, tree in trees.items():
        got = [measure(tree, env, "lambdas.http_api", event) for _ in range(REQUEST_RUNS)]
        if any(r["status"] != 200 for r in got):
            raise SystemExit(f"{name}: status {[r['status'] for r in got]}")
        imp, req = _median(got, "import_s"), _median(got, "request_s")
        print(f"  {name:<10} import {imp:5.2f} s + request {req:6.2f} s = {imp + req:6.2f} s "
              f"wall; request CPU {_median(got, 'request_cpu_s'):.2f} s; "
              f"{got[0]['bytes'] / 1024:.0f} KB")  # fmt: skip


def nse_event(expiry: str, directory: Path) -> Path:
    """The sample API Gateway event of an NSE chain request, on this expiry, every strike."""
    text = (ROOT / "events" / "http" / "chain_nse_window.json").read_text()
    event = json.loads(text.replace("2026-12-01", expiry))
    event["rawQueryString"] = "convention=nse"
    path = directory / "event.json"
    path.write_text(json.dumps(event))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="a4cba6a", help="the commit to compare with")
    baseline = parser.parse_args().baseline
    with (
        tempfile.TemporaryDirectory(prefix="bench-imports-") as tmp,
        devservices.services(Path(tmp), durable=False) as found,
        checkout(baseline) as before,
    ):
        prefix = f"bench:{uuid.uuid4().hex[:8]}:"
        hot = HotStore.from_url(found.redis_url, prefix)
        env = {
            # a deployed function's settings (infra/stacks/api.py); claims from the event
            "AWS_LAMBDA_FUNCTION_NAME": "strikeboard-bench", "AWS_REGION": "ap-south-1",
            "REDIS_URL": found.redis_url, "REDIS_KEY_PREFIX": prefix,
            "DATABASE_URL": found.database_url, "LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_NAMESPACE": "Strikeboard",
        }  # fmt: skip
        trees = {"this tree": ROOT, baseline: before}
        print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; median of "
              f"{RUNS} fresh interpreters per figure (target < {TARGET_S} s)")  # fmt: skip
        try:
            expiries = publish_market(hot)
            print_imports(trees, env)
            print_first_nse_request(trees, env, nse_event(expiries[0], Path(tmp)))
        finally:
            drop_keys(found.redis_url, prefix)
            hot.close()


if __name__ == "__main__":
    main()
