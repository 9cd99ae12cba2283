"""Fixtures shared by the tests and the benchmarks (not part of the `strikeboard` package).

Import them as `tests.support...`: the project root is on the path under pytest and under
`uv run python bench/x.py` alike (the editable install puts it there).
"""
