/** Spot, futures and VIX: the latest values by instrument name ("NIFTY 50", "FUT <expiry>"). */
import { createSlice, type PayloadAction } from "@reduxjs/toolkit";
import { clockOffset } from "../clock";
import type { Health, MarketInstrument, Session } from "../types";

export interface MarketState {
  instruments: Record<string, MarketInstrument>;
  marketOpen: boolean | null;
  stale: boolean;
  receivedAt: number | null;
  /** The market's session by the API's calendar (GET /api/health), null before the first answer. */
  session: Session | null;
  /** The API's clock minus the browser's (ms): the one clock of the SPA (see clock.ts). */
  clockOffsetMs: number | null;
}

const initialState: MarketState = {
  instruments: {},
  marketOpen: null,
  stale: false,
  receivedAt: null,
  session: null,
  clockOffsetMs: null,
};

const marketSlice = createSlice({
  name: "market",
  initialState,
  reducers: {
    marketReceived(
      state,
      action: PayloadAction<{
        instruments: Record<string, MarketInstrument>;
        marketOpen?: boolean;
        stale?: boolean;
        receivedAt?: number;
      }>,
    ) {
      const p = action.payload;
      for (const [name, doc] of Object.entries(p.instruments)) {
        state.instruments[name] = { ...state.instruments[name], ...doc };
      }
      if (p.marketOpen !== undefined) state.marketOpen = p.marketOpen;
      state.stale = p.stale ?? false;
      state.receivedAt = p.receivedAt ?? Date.now();
    },
    marketOpenChanged(state, action: PayloadAction<boolean>) {
      state.marketOpen = action.payload;
    },
    /** One answer of GET /api/health, received at local time `receivedAt` (ms). */
    healthReceived(state, action: PayloadAction<{ health: Health; receivedAt: number }>) {
      const { health, receivedAt } = action.payload;
      if (typeof health.market_open === "boolean") state.marketOpen = health.market_open;
      if (health.session) state.session = health.session;
      const offset = clockOffset(health.now, receivedAt);
      if (offset !== null) state.clockOffsetMs = offset;
    },
  },
});

export const { marketReceived, marketOpenChanged, healthReceived } = marketSlice.actions;
export default marketSlice.reducer;
