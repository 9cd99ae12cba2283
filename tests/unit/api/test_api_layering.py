"""The API's layers hold: its modules carry no SQL (the queries are the store's,
`strikeboard.store.*_queries`) and reach into no other object's private members (as the API
once did with `HotStore._call`)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

API = Path(__file__).resolve().parents[3] / "strikeboard" / "api"
SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET)\b", re.S)


def sql_strings(source: str) -> list[str]:
    """String constants that read as SQL statements (keywords in capitals, as written here)."""
    return [node.value for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and SQL.search(node.value)]  # fmt: skip


def private_reaches(source: str) -> list[str]:
    """`x._name` where x is not self or cls (dunders are not private)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
            continue
        if node.attr.startswith("__") and node.attr.endswith("__"):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            continue
        found.append(ast.unparse(node))
    return found


def test_the_checks_can_fail() -> None:
    source = (
        'Q = "SELECT max(minute) FROM chain_minute_agg WHERE x = %s"\n'
        'W = "INSERT INTO t (a) VALUES (1)"\n'
        'OK = "Select an expiry from the list"\n'
        "rows = stores.hot._call(pipe.execute)\n"
        "self._lock\ncls._cache\nobj.__class__\n"
    )
    assert len(sql_strings(source)) == 2
    assert private_reaches(source) == ["stores.hot._call"]


def test_no_sql_and_no_private_reach_in_the_api() -> None:
    found = {}
    for path in sorted(API.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        problems = [f"SQL: {s[:60]!r}" for s in sql_strings(source)] + [
            f"private: {p}" for p in private_reaches(source)
        ]
        if problems:
            found[str(path.relative_to(API.parent.parent))] = problems
    assert found == {}
