#!/bin/sh
# Installs one image's locked dependencies into a folder, from wheels only. The Dockerfiles RUN
# it; tests/infra/test_images.py runs it too, for the image's platform, so that the test proves
# the very recipe the build uses (no Docker needed).
#
#   install-deps.sh lambda|feed TARGET [uv pip install options]
#
# Run from the folder holding pyproject.toml and uv.lock. `uv` is taken from $UV (default: uv).
# The groups are the ones each image's processes import (pyproject.toml): `uv export` writes
# the exact versions and hashes of uv.lock, `uv pip install` checks the hashes and, with
# --only-binary, fails instead of compiling anything the base image's glibc has no wheel for.
set -eu
image=$1
target=$2
shift 2
case "$image" in
  lambda) groups="--group api --group kite" ;;  # no JIT: the API prices in plain NumPy
  feed) groups="--group kite --group jit --group push" ;;  # the pusher runs from it too
  *) echo "install-deps.sh: unknown image '$image' (lambda or feed)" >&2; exit 2 ;;
esac
uv=${UV:-uv}
requirements=$(mktemp)
trap 'rm -f "$requirements"' EXIT
# shellcheck disable=SC2086  # $groups is a list of options
"$uv" export --quiet --frozen --no-default-groups --no-emit-project $groups -o "$requirements"
"$uv" pip install --target "$target" --only-binary :all: -r "$requirements" "$@"
