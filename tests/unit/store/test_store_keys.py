from __future__ import annotations

from datetime import date

import pytest

from strikeboard.store.keys import Keys


def test_keys_share_the_prefix_and_are_distinct() -> None:
    k = Keys("sb:")
    names = [
        k.expiries("NIFTY"),
        k.snapshot("NIFTY", date(2026, 11, 26)),
        k.seq("NIFTY", "2026-11-26"),
        k.deltas("NIFTY", "2026-11-26"),
        k.channel("NIFTY", "2026-11-26"),
        k.market(),
        k.ticks(),
        k.health(),
    ]
    assert all(n.startswith("sb:") for n in names)
    assert len(set(names)) == len(names)
    assert k.snapshot("NIFTY", date(2026, 11, 26)) == k.snapshot("NIFTY", "2026-11-26")
    assert k.snapshot("NIFTY", "2026-11-26") == "sb:snap:NIFTY:2026-11-26"


@pytest.mark.parametrize("bad", ["", "NI:FTY", "NI FTY"])
def test_bad_components_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="key component"):
        Keys().expiries(bad)


def test_bad_expiry_is_rejected() -> None:
    with pytest.raises(ValueError):
        Keys().snapshot("NIFTY", "26-11-2026")
