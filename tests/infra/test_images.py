"""Each deployed image installs from the locked wheels for its own platform, and its entry
points import from what it installs. No Docker and no Node.js needed.

For every image of infra/images.py:
- its Dockerfile starts FROM the base the table describes (Python and glibc known) and RUNs
  infra/docker/install-deps.sh for that image, the recipe these tests run;
- that recipe installs the image's dependencies for the image's platform (aarch64, the base's
  glibc and Python) with --only-binary :all:, and for the old Lambda base (Amazon Linux 2) it
  finds no solution, which is how `cdk deploy` used to fail;
- installed for this machine (x86_64, CPython 3.11, the only interpreter that runs here), the
  same dependencies let a clean interpreter (`-I -S`: no .venv, no site-packages) import every
  Lambda handler and feed main, with only that folder and the sources the Dockerfile copies on
  sys.path, in the environment the process gets in the cloud.
Sizes and import times are printed. Downloads go through uv's cache (~/.cache/uv).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.images import FEED, IMAGES, LAMBDA, LAMBDA_HANDLERS, Image

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "infra/docker/install-deps.sh"
UV = ROOT / "scripts/uv"
# public.ecr.aws/lambda/python:3.11, the base before: Amazon Linux 2 (glibc 2.26) on x86_64.
# manylinux_2_17 is the newest tag below 2.26 that uv's --python-platform offers.
OLD_LAMBDA_PLATFORM = ("x86_64-manylinux_2_17", "3.11")

# Run by a clean interpreter: argv = sources, dependencies, module, attributes (comma-separated).
# Prints the import time; fails if anything is loaded from outside those folders and the stdlib.
IMPORT_PROBE = """
import importlib, sys, sysconfig, time
src, site, name, attrs = sys.argv[1:5]
sys.path[:0] = [src, site]
start = time.perf_counter()
module = importlib.import_module(name)
elapsed = time.perf_counter() - start
for attr in filter(None, attrs.split(",")):
    assert callable(getattr(module, attr)), f"{name}.{attr} is not callable"
allowed = (src, site, sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib"))
strays = sorted(
    f"{n}: {f}" for n, m in list(sys.modules.items())
    if (f := getattr(m, "__file__", None)) and not f.startswith(allowed)
)
assert not strays, f"loaded from outside the image: {strays}"
print(f"{elapsed:.3f}")
"""


def run_recipe(image: Image, target: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """infra/docker/install-deps.sh, as the Dockerfile RUNs it, with this project's uv."""
    env = {**os.environ, "UV": str(UV)}
    return subprocess.run(
        ["sh", str(RECIPE), image.name, str(target), *options],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def distributions(folder: Path) -> dict[str, str]:
    """name -> version of what an install put into `folder`."""
    found = (p.name.removesuffix(".dist-info").split("-") for p in folder.glob("*.dist-info"))
    return {name.lower(): version for name, version in found}


def size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    with capsys.disabled():
        print(f"\n[images] {line}", end="")


@pytest.mark.parametrize("image", IMAGES, ids=lambda i: i.name)
def test_dockerfile_builds_on_the_base_with_the_recipe(image: Image) -> None:
    text = (ROOT / image.dockerfile).read_text()
    bases = re.findall(r"^FROM\s+(?:--platform=\S+\s+)?(\S+)", text, re.MULTILINE)
    assert bases and set(bases) == {image.base}  # every stage: same Python, same glibc
    assert re.search(rf"^RUN sh install-deps\.sh {image.name} ", text, re.MULTILINE)
    assert "COPY pyproject.toml uv.lock infra/docker/install-deps.sh ./" in text
    copied = re.findall(r"^COPY (\w+) \./\1$", text, re.MULTILINE)
    assert sorted(copied) == sorted(image.sources)


@pytest.mark.parametrize("image", IMAGES, ids=lambda i: i.name)
def test_locked_wheels_install_for_the_image_platform(
    image: Image, here: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "deps"
    done = run_recipe(
        image, target, "--python-platform", image.python_platform,
        "--python-version", image.python,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    installed = distributions(target)
    assert "numpy" in installed
    assert not set(installed) & {"scipy", "uvicorn", "pytest", "moto"}  # local/dev groups
    if image.name == "lambda":  # the API prices in plain NumPy: no JIT compiler to ship
        assert not set(installed) & {"numba", "llvmlite"}
    # The same versions as installed for this machine, where the test suite runs them.
    assert installed == distributions(here[image.name])
    report(
        capsys,
        f"{image.name}: {image.base} ({image.python_platform}, CPython {image.python}): "
        f"{len(installed)} distributions, {size_mb(target):.0f} MB before bytecode",
    )


def test_the_old_lambda_base_finds_no_wheels(tmp_path: Path) -> None:
    """The check above, pointed at the Python 3.11 Lambda base, fails as `cdk deploy` did."""
    platform, python = OLD_LAMBDA_PLATFORM
    done = run_recipe(
        LAMBDA, tmp_path / "deps", "--python-platform", platform, "--python-version", python,
        "--dry-run",
    )  # fmt: skip
    assert done.returncode != 0
    assert "has no usable wheels" in done.stderr, done.stderr


@pytest.fixture(scope="module")
def here(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Each image's dependencies installed for this machine (x86_64, CPython 3.11)."""
    folders = {}
    for image in IMAGES:
        target = tmp_path_factory.mktemp(f"{image.name}-x86_64")
        done = run_recipe(image, target, "--python", sys.executable)
        assert done.returncode == 0, done.stderr
        folders[image.name] = target
    yield folders


def cloud_environment(image: Image, work: Path) -> dict[str, str]:
    """What the process gets in the cloud (infra/stacks: app_environment and per stack), with
    endpoints nothing listens on: importing must not connect anywhere."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "REDIS_URL": "rediss://127.0.0.1:9/0",
        "DATABASE_URL": "postgresql://strikeboard@127.0.0.1:9/strikeboard?sslmode=require",
        "PGPASSWORD": "not-used-at-import",
        "KITE_SECRET_NAME": "strikeboard/kite",
        "KITE_API_KEY": "testkey",
        "NUMBA_CACHE_DIR": str(work / "numba"),
        "LOG_LEVEL": "INFO",
        "AWS_REGION": "ap-south-1",
        "AWS_DEFAULT_REGION": "ap-south-1",
        "PUSH_ENDPOINT_URL": "https://example.execute-api.ap-south-1.amazonaws.com/prod",
    }
    if image is LAMBDA:
        return env | {
            "LAMBDA_TASK_ROOT": str(work / "src"),
            "AWS_LAMBDA_FUNCTION_NAME": "strikeboard-test",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{image.python}",
            "COGNITO_ISSUER": "https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_test",
            "COGNITO_CLIENT_ID": "testclient",
            "POWERTOOLS_SERVICE_NAME": "strikeboard-api",
        }
    assert image is FEED
    return env | {"HOME": str(work), "SPOOL_DIR": str(work / "spool"), "PYTHONUNBUFFERED": "1"}


@pytest.mark.parametrize("image", IMAGES, ids=lambda i: i.name)
def test_entry_points_import_from_the_image_folder(
    image: Image,
    here: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src = tmp_path / "src"  # what the Dockerfile COPYs next to the dependencies
    src.mkdir()
    for package in image.sources:
        (src / package).symlink_to(ROOT / package, target_is_directory=True)
    site = here[image.name]
    env = cloud_environment(image, tmp_path)
    python = [sys.executable, "-I", "-S", "-c"]
    # First all at once, writing the bytecode that the image ships precompiled; then each in a
    # new interpreter, timed: the import a new container pays.
    warm = f"import sys; sys.path[:0] = {[str(src), str(site)]}; import {', '.join(image.modules)}"
    done = subprocess.run([*python, warm], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    times = []
    for module in image.modules:
        attrs = [h.rpartition(".")[2] for h in LAMBDA_HANDLERS if h.startswith(f"{module}.")]
        probe = [*python, IMPORT_PROBE, str(src), str(site), module, ",".join(attrs)]
        done = subprocess.run(probe, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{module}:\n{done.stderr}"
        times.append(f"{module} {float(done.stdout.strip().splitlines()[-1]):.2f} s")
    report(
        capsys,
        f"{image.name} on x86_64/CPython {sys.version_info.major}.{sys.version_info.minor}: "
        f"{size_mb(site):.0f} MB; import: {', '.join(times)}",
    )
