/** Wire types of the strategy builder (strikeboard/api/models.py StrategyLeg, StrategyPayoff). */

export type OptionType = "CE" | "PE";
export type TradeSide = "buy" | "sell";
export const ENTRIES = ["mid", "bid", "ask", "ltp", "typed"] as const;
export type Entry = (typeof ENTRIES)[number];

export interface StrategyLeg {
  expiry: string;
  strike: number;
  option_type: OptionType;
  side: TradeSide;
  lots: number;
  entry: Entry;
  /** Premium per unit; used with entry "typed". */
  price: number | null;
}

export interface SavedStrategy {
  name: string;
  underlying: string;
  legs: StrategyLeg[];
}

export interface StrategyRequest {
  underlying: string;
  legs: StrategyLeg[];
  range_pct: number | null;
  points: number;
  iv_shift: number;
  target: string | null;
}

export interface PricedLeg extends StrategyLeg {
  price: number;
  lot_size: number;
  quantity: number;
  iv: number;
  iv_source: "entry" | "chain";
}

export interface StrategyPayoff {
  underlying: string;
  spot: number;
  now: string;
  target: string;
  horizon: string;
  forward: number | null;
  atm_iv: number | null;
  iv_shift: number;
  range_pct: number;
  spots: number[];
  at_expiry: number[];
  at_target: number[];
  target_at_spot: number;
  breakevens: number[];
  max_profit: number | null;
  max_loss: number | null;
  pop: number | null;
  net_premium: number;
  greeks: { delta: number; gamma: number; theta: number; vega: number };
  legs: PricedLeg[];
  source: "live" | "archive";
  stale: boolean;
}
