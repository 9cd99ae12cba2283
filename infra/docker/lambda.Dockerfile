# The Lambda image of the HTTP API, the WebSocket routes and the scheduled jobs (one image,
# the handler is chosen per function by CMD). An image rather than a zip: the dependencies
# (about 150 MB) leave little room under a zip's 250 MB, and the feed image is built the same
# way. Built by `cdk deploy` for linux/arm64 (infra/images.py), the repository root as context.
# Python 3.12 on Amazon Linux 2023 (glibc 2.34): the locked numpy wheels need glibc >= 2.27,
# which the Python 3.11 base (Amazon Linux 2, glibc 2.26) does not have. No numba here: the
# API prices in plain NumPy (strikeboard/chain/bsm.py).
FROM public.ecr.aws/lambda/python:3.12
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
WORKDIR /build
COPY pyproject.toml uv.lock infra/docker/install-deps.sh ./
# The same script tests/infra/test_images.py runs for this platform: locked wheels only.
RUN sh install-deps.sh lambda "${LAMBDA_TASK_ROOT}" --no-cache --compile-bytecode \
 && rm -rf /build
WORKDIR ${LAMBDA_TASK_ROOT}
COPY strikeboard ./strikeboard
COPY lambdas ./lambdas
RUN python3 -m compileall -q strikeboard lambdas
CMD ["lambdas.http_api.handler"]
