/**
 * The trader tools' panel (components/Tools.tsx): which tool is open, the drilled-down strike,
 * the strikes whose OI is watched over the day and which legs' OI they show.
 */
import { createSlice, type PayloadAction } from "@reduxjs/toolkit";
import { underlyingSelected } from "./uiSlice";
import { viewApplied } from "./view";

export const TOOLS = ["strike", "oi", "surface"] as const;
export type Tool = (typeof TOOLS)[number];
/** Whose OI a watched strike's line is: the call's, the put's, or both added. */
export type OiLegs = "CE" | "PE" | "both";

/** The most strikes watched at once (one line and two series fetches each). */
export const MAX_WATCHED = 8;

export interface ToolsState {
  open: Tool | null;
  /** The strike of the drill-down, or null. */
  strike: number | null;
  watched: number[];
  legs: OiLegs;
  /** The underlying the strikes above are of (the view's, as uiSlice starts). */
  underlying: string;
}

const initialState: ToolsState = { open: null, strike: null, watched: [], legs: "both", underlying: "NIFTY" };

const toolsSlice = createSlice({
  name: "tools",
  initialState,
  reducers: {
    /** Open `tool` (the other tools close), or close the panel with null. */
    toolOpened(state, action: PayloadAction<Tool | null>) {
      state.open = action.payload;
    },
    /** Drill down into a strike: the panel opens on it. */
    strikeDrilled(state, action: PayloadAction<number>) {
      state.strike = action.payload;
      state.open = "strike";
    },
    /** Watch a strike's OI (again: stop watching it); with MAX_WATCHED watched, the new one
     * replaces the watched strike farthest from it. */
    watchToggled(state, action: PayloadAction<number>) {
      const k = action.payload;
      let list = state.watched;
      if (list.includes(k)) list = list.filter((w) => w !== k);
      else {
        if (list.length >= MAX_WATCHED) {
          const far = list.reduce((f, w) => (Math.abs(w - k) > Math.abs(f - k) ? w : f));
          list = list.filter((w) => w !== far);
        }
        list = [...list, k].sort((x, y) => x - y);
      }
      state.watched = list;
    },
    legsChosen(state, action: PayloadAction<OiLegs>) {
      state.legs = action.payload;
    },
  },
  extraReducers: (b) => {
    // Another underlying has other strikes: nothing picked on this one applies there.
    const switchTo = (state: ToolsState, underlying: string | undefined) => {
      if (underlying === undefined || underlying === state.underlying) return;
      state.underlying = underlying;
      state.strike = null;
      state.watched = [];
      if (state.open === "strike") state.open = null;
    };
    b.addCase(underlyingSelected, (state, { payload }) => switchTo(state, payload));
    b.addCase(viewApplied, (state, { payload }) => switchTo(state, payload.underlying));
  },
});

export const { toolOpened, strikeDrilled, watchToggled, legsChosen } = toolsSlice.actions;
export default toolsSlice.reducer;
