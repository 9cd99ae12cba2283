# The Lambda image of the HTTP API, the WebSocket routes and the scheduled jobs (one image,
# the handler is chosen per function by CMD). A container image because the dependencies
# (numba/llvmlite, scipy, numpy) exceed the 250 MB limit of a zip package. Built by
# `cdk deploy` with the repository root as context; synthesis only stages the files.
FROM public.ecr.aws/lambda/python:3.11
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
WORKDIR ${LAMBDA_TASK_ROOT}
COPY pyproject.toml uv.lock README.md ./
# --no-default-groups: the project sets default-groups = "all" (dev, bench, infra tools).
RUN uv export --frozen --no-default-groups --no-emit-project --no-hashes -o /tmp/requirements.txt \
 && uv pip install --no-cache --compile-bytecode --target "${LAMBDA_TASK_ROOT}" \
      -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt
COPY strikeboard ./strikeboard
COPY lambdas ./lambdas
# Only /tmp is writable on Lambda: numba caches its compiled kernels there.
ENV NUMBA_CACHE_DIR=/tmp/numba
CMD ["lambdas.http_api.handler"]
