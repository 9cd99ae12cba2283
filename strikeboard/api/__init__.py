"""The HTTP API (FastAPI): routes, queries, NSE recompute, preferences, scheduled jobs.

`strikeboard.api.app.create_app` builds the app; `lambdas/http_api.py` serves it on Lambda and
the local gateway mounts the same object. Reference: docs/api.md.
"""
