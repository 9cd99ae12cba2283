/**
 * Buy and sell buttons on a strike's call or put side of the chain (shown on the hovered or
 * selected row): each adds a lot of that contract to the strategy builder. The expiry and
 * underlying are read at the click, so the row subscribes to nothing more.
 */
import { memo, type MouseEvent } from "react";
import { useAppDispatch, useAppStore } from "../hooks";
import { legPicked } from "../store/strategySlice";
import type { OptionType, TradeSide } from "../strategy/types";

export const StrategyPick = memo(function StrategyPick({ strike, side }: { strike: number; side: OptionType }) {
  const dispatch = useAppDispatch();
  const store = useAppStore();
  const pick = (trade: TradeSide) => (e: MouseEvent) => {
    e.stopPropagation();
    const { chain, ui } = store.getState();
    if (!chain.expiry) return;
    dispatch(legPicked({ underlying: ui.underlying, expiry: chain.expiry, strike, option_type: side, side: trade }));
  };
  return (
    <span className={`pick pick-${side}`}>
      <button type="button" className="buy" data-pick={`buy-${side}`} title={`Buy ${strike} ${side}`} onClick={pick("buy")}>
        B
      </button>
      <button type="button" className="sell" data-pick={`sell-${side}`} title={`Sell ${strike} ${side}`} onClick={pick("sell")}>
        S
      </button>
    </span>
  );
});
