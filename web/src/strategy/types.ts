/**
 * Wire types of the strategy builder (strikeboard/api/models.py StrategyLeg, StrategyPayoff),
 * aliased from the types generated from the API's schema (api/schema.gen.ts).
 */
import type * as api from "../api/schema.gen";
import type { Without } from "../types";

export type OptionType = "CE" | "PE";
export type TradeSide = "buy" | "sell";
export const ENTRIES = ["mid", "bid", "ask", "ltp", "typed"] as const;
export type Entry = (typeof ENTRIES)[number];

// The schema's rule "a typed entry needs a price" (an anyOf) comes out of the generator as a
// union with partial members: a leg is its member with every field.
type Full<T> = Extract<T, { strike: number }>;

export type StrategyLeg = Without<Full<api.StrategyLeg>, "price"> & {
  /** Premium per unit; used with entry "typed". */
  price: number | null;
};

export type SavedStrategy = Without<api.SavedStrategy, "legs"> & { legs: StrategyLeg[] };

/** The request; `underlying` is one of the deployment's (the schema's enum is the dump's). */
export type StrategyRequest = Without<api.StrategyRequest, "underlying" | "legs" | "range_pct" | "target"> & {
  underlying: string;
  legs: StrategyLeg[];
  range_pct: number | null;
  target: string | null;
};

export type PricedLeg = Full<api.StrategyLegPriced>;

export type StrategyPayoff = Without<api.StrategyPayoff, "legs"> & { legs: PricedLeg[] };
