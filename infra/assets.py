"""The two container images, built by `cdk deploy` (Docker needed then) from the repo root,
for the platform of infra/images.py (arm64: Graviton Lambdas and Fargate task).

Synthesis only fingerprints and stages the files below (no Docker): everything else in the
repository (.venv, web/node_modules, .local, tests, ...) is excluded from the build context.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import IgnoreMode
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.images import FEED, LAMBDA

ROOT = Path(__file__).resolve().parents[1]
LAMBDA_DOCKERFILE = LAMBDA.dockerfile
FEED_DOCKERFILE = FEED.dockerfile
PLATFORM = ecr_assets.Platform.LINUX_ARM64  # DOCKER_PLATFORM (tests/infra checks they agree)
# What the functions and the task run on: the CPU the images are built for.
LAMBDA_ARCHITECTURE = lambda_.Architecture.ARM_64
FARGATE_CPU = ecs.CpuArchitecture.ARM64

# Docker ignore syntax: exclude everything, then bring back what the Dockerfiles copy.
CONTEXT_EXCLUDE = [
    "*",
    "!pyproject.toml",
    "!uv.lock",
    "!strikeboard",
    "!feed_container",
    "!lambdas",
    "!infra/docker",
    "**/__pycache__",
    "**/*.pyc",
]


def feed_image() -> ecs.ContainerImage:
    """The feed image (feed_container/Dockerfile); the pusher runs from it too."""
    return ecs.ContainerImage.from_asset(
        str(ROOT),
        file=FEED_DOCKERFILE,
        platform=PLATFORM,
        exclude=CONTEXT_EXCLUDE,
        ignore_mode=IgnoreMode.DOCKER,
    )


def lambda_tracing(scope: Construct) -> lambda_.Tracing:
    """X-Ray active tracing when the app's context has ``tracing=true``. Off by default: the
    code adds no subsegments, and the traces cost about $2 a month for ten users."""
    wanted = str(scope.node.try_get_context("tracing")).lower() in ("1", "true", "yes")
    return lambda_.Tracing.ACTIVE if wanted else lambda_.Tracing.DISABLED


def lambda_code(handler: str) -> lambda_.DockerImageCode:
    """The Lambda image (infra/docker/lambda.Dockerfile) running `handler`."""
    return lambda_.DockerImageCode.from_image_asset(
        str(ROOT),
        file=LAMBDA_DOCKERFILE,
        cmd=[handler],
        platform=PLATFORM,
        exclude=CONTEXT_EXCLUDE,
        ignore_mode=IgnoreMode.DOCKER,
    )
