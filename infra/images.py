"""The container images the app deploys: base, Python, CPU and the glibc their wheels may need.

Plain data (no CDK import), shared by infra/assets.py, which builds the images, and by
tests/infra/test_images.py, which proves without Docker that each image installs from the
locked wheels for exactly this platform and that its entry points import.
"""

from __future__ import annotations

from dataclasses import dataclass

# Graviton for the Lambdas and the Fargate task: cheaper per second than x86_64 (both run
# Python and wheels, nothing compiled for x86). `ARCH` is the wheels' name for the CPU,
# `DOCKER_PLATFORM` the build's.
ARCH = "aarch64"
DOCKER_PLATFORM = "linux/arm64"


@dataclass(frozen=True)
class Image:
    name: str  # the image argument of infra/docker/install-deps.sh
    dockerfile: str  # relative to the repository root (the build context)
    base: str  # every FROM of the Dockerfile
    python: str  # the base's CPython, major.minor
    glibc: str  # the base's glibc: wheels tagged up to manylinux_<glibc> run on it
    sources: tuple[str, ...]  # the packages of this repository the Dockerfile copies
    modules: tuple[str, ...]  # what its processes import first (handlers, `python -m` mains)

    @property
    def python_platform(self) -> str:
        """uv's --python-platform for this image, e.g. aarch64-manylinux_2_34."""
        return f"{ARCH}-manylinux_{self.glibc.replace('.', '_')}"


# The handlers of the Lambda functions (infra/stacks/api.py and jobs.py; tests/infra checks
# the synthesized functions run exactly these).
LAMBDA_HANDLERS = (
    "lambdas.http_api.handler",
    "lambdas.kite_login.handler",
    "lambdas.ws.handler",
    "lambdas.jobs.eod_handler",
    "lambdas.jobs.cleanup_handler",
    "lambdas.feed_schedule.handler",
)
# The feed task's containers (infra/stacks/feed.py): `python -m` of these modules.
FEED_MAINS = ("feed_container", "strikeboard.push")

LAMBDA = Image(
    name="lambda",
    dockerfile="infra/docker/lambda.Dockerfile",
    # AWS's Python 3.12 base is Amazon Linux 2023 (glibc 2.34); its 3.11 base was Amazon
    # Linux 2 (glibc 2.26), for which numpy, numba and llvmlite publish no wheels.
    base="public.ecr.aws/lambda/python:3.12",
    python="3.12",
    glibc="2.34",
    sources=("strikeboard", "lambdas"),
    modules=tuple(dict.fromkeys(h.rpartition(".")[0] for h in LAMBDA_HANDLERS)),
)
FEED = Image(
    name="feed",
    dockerfile="feed_container/Dockerfile",
    base="python:3.12-slim-bookworm",  # Debian 12: glibc 2.36
    python="3.12",
    glibc="2.36",
    sources=("strikeboard", "feed_container"),
    modules=tuple(f"{m}.__main__" for m in FEED_MAINS),
)
IMAGES = (LAMBDA, FEED)
