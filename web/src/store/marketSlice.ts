/** Spot, futures and VIX: the latest values by instrument name ("NIFTY 50", "FUT <expiry>"). */
import { createSlice, type PayloadAction } from "@reduxjs/toolkit";
import type { MarketInstrument } from "../types";

export interface MarketState {
  instruments: Record<string, MarketInstrument>;
  marketOpen: boolean | null;
  stale: boolean;
  receivedAt: number | null;
}

const initialState: MarketState = {
  instruments: {},
  marketOpen: null,
  stale: false,
  receivedAt: null,
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
  },
});

export const { marketReceived, marketOpenChanged } = marketSlice.actions;
export default marketSlice.reducer;
