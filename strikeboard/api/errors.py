"""The API's error types and their answers (`{"detail": ...}`, the Problem model), shared by
the main app and the Kite login app. No store driver is imported here: the Kite login app runs
where Redis and PostgreSQL are not reachable (`strikeboard.api.routes.kite_login`)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


class UnavailableError(Exception):
    """A backing store or service is down, or a feature is not configured (503)."""


class NotFoundError(Exception):
    """The thing asked for does not exist (404 with this message)."""


class BadRequestError(Exception):
    """A parameter is unusable (400 with this message)."""


class ConflictError(Exception):
    """The request cannot be done in this state (409 with this message): e.g. e-mail alerts
    on a deployment without a topic, an address another user subscribed."""


class UnauthorizedError(Exception):
    """Raised by the auth dependency; answered 401."""


def add_error_handlers(app: FastAPI) -> None:
    """Answer each error above, and request validation, as a Problem."""

    @app.exception_handler(UnavailableError)
    async def _unavailable(_: Request, exc: UnavailableError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(NotFoundError)
    async def _not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(BadRequestError)
    async def _bad_request(_: Request, exc: BadRequestError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(ConflictError)
    async def _conflict(_: Request, exc: ConflictError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # One readable sentence per problem, e.g. "query.limit: Input should be <= 5000".
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
            for e in exc.errors()
        ]
        return JSONResponse({"detail": "; ".join(problems) or "invalid request"}, status_code=422)

    @app.exception_handler(UnauthorizedError)
    async def _unauthorized(_: Request, exc: UnauthorizedError) -> JSONResponse:
        return JSONResponse(
            {"detail": f"not authenticated: {exc}"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
