"""The API's routes, a router per resource (docs/api.md). Each module's router carries neither
the /api prefix nor a guard: `strikeboard.api.app.create_app` includes it under /api, open to
anyone (`PUBLIC_ROUTERS`: the status, the sign-in settings, the Kite callback) or behind
`current_user` (`AUTHENTICATED_ROUTERS`: everything else)."""
