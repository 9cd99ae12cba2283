"""POST /api/strategy/payoff: a strategy priced against the chains (`strikeboard.api.strategy`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from strikeboard.api.dependencies import CHAINS
from strikeboard.api.models import StrategyPayoff, StrategyRequest
from strikeboard.api.strategy import payoff

router = APIRouter(tags=["strategy"])


@router.post("/strategy/payoff", response_model=StrategyPayoff)
def strategy_payoff(body: StrategyRequest, chains: CHAINS) -> dict[str, Any]:
    """A strategy's payoff at the first expiry and at a target date (spot axis, IV shift),
    breakevens, max profit and loss, net Greeks in rupees and probability of profit, priced
    against the live chains (the archive's last minute after hours)."""
    return payoff(body, chains)
