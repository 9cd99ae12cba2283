/**
 * The strategy builder's state: the legs being built, the payoff chart's controls, whether the
 * panel is open. Pricing is the API's (POST /api/strategy/payoff, store/strategyApi.ts); saved
 * strategies live in the preferences (prefs.strategies), shared ones in the address
 * (`?strategy=`, strategy/codec.ts).
 */
import { createSlice, type PayloadAction } from "@reduxjs/toolkit";
import type { Entry, OptionType, SavedStrategy, StrategyLeg, TradeSide } from "../strategy/types";

export const MAX_LEGS = 20; // strikeboard/api/models.py MAX_STRATEGY_LEGS
export const MAX_LOTS = 10_000;

export interface StrategyControls {
  /** Spot axis: today's spot +/- this %, or null for the API's (4 standard deviations). */
  rangePct: number | null;
  /** Vol points added to every leg's IV on the T+ curve. */
  ivShift: number;
  /** The T+ curve's date (YYYY-MM-DD, valued at its 15:30 IST close), or null for now. */
  targetDay: string | null;
}

export interface StrategyState {
  open: boolean;
  underlying: string;
  legs: StrategyLeg[];
  controls: StrategyControls;
  /** The saved strategy these legs came from (or were saved as), for the name field. */
  name: string;
}

export const DEFAULT_CONTROLS: StrategyControls = { rangePct: null, ivShift: 0, targetDay: null };

const initialState: StrategyState = {
  open: false,
  underlying: "NIFTY",
  legs: [],
  controls: DEFAULT_CONTROLS,
  name: "",
};

export interface LegPick {
  underlying: string;
  expiry: string;
  strike: number;
  option_type: OptionType;
  side: TradeSide;
}

const sameContract = (a: StrategyLeg, b: Pick<StrategyLeg, "expiry" | "strike" | "option_type" | "side">) =>
  a.expiry === b.expiry && a.strike === b.strike && a.option_type === b.option_type && a.side === b.side;

const strategySlice = createSlice({
  name: "strategy",
  initialState,
  reducers: {
    builderToggled(state, action: PayloadAction<boolean | undefined>) {
      state.open = action.payload ?? !state.open;
    },
    /** A buy or sell from the chain: one more lot of a leg already there, else a new leg at the
     *  mid. Another underlying starts a new strategy. */
    legPicked(state, { payload }: PayloadAction<LegPick>) {
      state.open = true;
      if (payload.underlying !== state.underlying) {
        state.underlying = payload.underlying;
        state.legs = [];
        state.name = "";
      }
      const same = state.legs.find((l) => sameContract(l, payload));
      if (same) {
        same.lots = Math.min(MAX_LOTS, same.lots + 1);
        return;
      }
      if (state.legs.length >= MAX_LEGS) return;
      const { expiry, strike, option_type, side } = payload;
      state.legs.push({ expiry, strike, option_type, side, lots: 1, entry: "mid", price: null });
    },
    legChanged(state, { payload }: PayloadAction<{ index: number; patch: Partial<Pick<StrategyLeg, "side" | "lots" | "entry" | "price">> }>) {
      const leg = state.legs[payload.index];
      if (!leg) return;
      const p = payload.patch;
      if (p.side) leg.side = p.side;
      if (p.lots !== undefined && Number.isFinite(p.lots)) leg.lots = Math.min(MAX_LOTS, Math.max(1, Math.round(p.lots)));
      if (p.entry) leg.entry = p.entry;
      if (p.price !== undefined) leg.price = p.price !== null && Number.isFinite(p.price) && p.price > 0 ? p.price : null;
    },
    legRemoved(state, action: PayloadAction<number>) {
      state.legs.splice(action.payload, 1);
    },
    legsCleared(state) {
      state.legs = [];
      state.name = "";
      state.controls = DEFAULT_CONTROLS;
    },
    controlsChanged(state, action: PayloadAction<Partial<StrategyControls>>) {
      const c = { ...state.controls, ...action.payload };
      c.rangePct = c.rangePct === null ? null : Math.min(50, Math.max(0.5, c.rangePct));
      c.ivShift = Math.min(100, Math.max(-50, c.ivShift));
      state.controls = c;
    },
    nameChanged(state, action: PayloadAction<string>) {
      state.name = action.payload.slice(0, 60);
    },
    /** A saved or shared strategy replaces the legs and opens the builder. */
    strategyLoaded(state, { payload }: PayloadAction<SavedStrategy>) {
      state.open = true;
      state.underlying = payload.underlying;
      state.legs = payload.legs.slice(0, MAX_LEGS).map((l) => ({ ...l }));
      state.name = payload.name;
      state.controls = { ...state.controls, targetDay: null };
    },
  },
});

export const { builderToggled, legPicked, legChanged, legRemoved, legsCleared, controlsChanged, nameChanged, strategyLoaded } =
  strategySlice.actions;
export default strategySlice.reducer;

/** A leg with an entry the API accepts: "typed" needs a price. */
export function legReady(leg: StrategyLeg): boolean {
  return leg.entry !== "typed" || (leg.price !== null && leg.price > 0);
}

export type { Entry };
