"""The HTTP API (FastAPI): routers per resource (`routes/`), their dependencies, the API logic
beside them (chain source, analytics views, NSE recompute, strategy pricing), scheduled jobs.
No SQL here: the queries are the store's (`strikeboard.store.*_queries`).

`strikeboard.api.app.create_app` builds the app; `lambdas/http_api.py` serves it on Lambda and
the local gateway is handed the same object. Reference: docs/api.md.
"""
