"""Storage: Redis hot store, PostgreSQL archive with migrations, and a durable spool.

See docs/storage.md for every key and table, their bounds and retention. Import the modules
themselves (`strikeboard.store.hot`, `.archive`, ...): this package imports none of them, so a
Lambda that needs only Redis does not load psycopg and the archive's NumPy code.
"""
