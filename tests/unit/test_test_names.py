"""Test modules are imported by their file name (no packages under tests/, rootdir-relative
`conftest` imports): two files of one name in different folders stop the whole run at
collection ("import file mismatch"), which a targeted run of either folder never shows."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_no_two_test_modules_share_a_name() -> None:
    names = Counter(p.name for p in TESTS.rglob("test_*.py"))
    assert [name for name, n in names.items() if n > 1] == []
