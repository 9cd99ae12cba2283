"""The API's routes, a router per resource (docs/api.md). Each module's ``router`` has no
prefix and no guard: `strikeboard.api.app.create_app` mounts it under /api, on the public router
(status, sign-in settings, the Kite callback) or the authenticated one (everything else)."""
