/** UI state: connection, selection, time travel, toasts, the session. */
import { createSlice, type PayloadAction } from "@reduxjs/toolkit";
import { viewApplied, type Panel } from "./view";

export type Connection = "connecting" | "live" | "reconnecting" | "polling";

export interface Toast {
  id: number;
  kind: "order" | "info" | "error";
  text: string;
}

/** What the API answered for the view's past minute. */
export interface HistoryStatus {
  state: "loading" | "loaded" | "missing" | "failed";
  /** The API's own words when it had nothing (404) or failed. */
  detail: string | null;
  /** The nearest minute that has data (ISO), when known. */
  nearest: string | null;
}

export interface UiState {
  connection: Connection;
  selectedStrike: number | null;
  /** A past minute (ISO) shown instead of the live chain, or null for live. */
  at: string | null;
  toasts: Toast[];
  nextToastId: number;
  /** The API answered 401: the token is missing or wrong. */
  unauthorized: boolean;
  /** The open panel, if any. */
  panel: Panel | null;
  /** The underlying on screen (the view's, store/view.ts). */
  underlying: string;
  /** The past minute's answer, null when live. */
  history: HistoryStatus | null;
}

const initialState: UiState = {
  connection: "connecting",
  selectedStrike: null,
  at: null,
  toasts: [],
  nextToastId: 1,
  unauthorized: false,
  panel: null,
  underlying: "NIFTY",
  history: null,
};

const uiSlice = createSlice({
  name: "ui",
  initialState,
  reducers: {
    connectionChanged(state, action: PayloadAction<Connection>) {
      state.connection = action.payload;
    },
    strikeSelected(state, action: PayloadAction<number | null>) {
      state.selectedStrike = action.payload;
    },
    timeTravel(state, action: PayloadAction<string | null>) {
      if (state.at !== action.payload) state.history = null;
      state.at = action.payload;
    },
    /** Close `panel` if it is the open one. */
    panelClosed(state, action: PayloadAction<Panel>) {
      if (state.panel === action.payload) state.panel = null;
    },
    historyAnswered(state, action: PayloadAction<HistoryStatus | null>) {
      state.history = action.payload;
    },
    toastAdded(state, action: PayloadAction<Omit<Toast, "id">>) {
      state.toasts.push({ ...action.payload, id: state.nextToastId });
      state.nextToastId += 1;
      if (state.toasts.length > 5) state.toasts.shift();
    },
    toastDismissed(state, action: PayloadAction<number>) {
      state.toasts = state.toasts.filter((t) => t.id !== action.payload);
    },
    unauthorizedChanged(state, action: PayloadAction<boolean>) {
      state.unauthorized = action.payload;
    },
    /** The user picked another underlying: its own expiries are listed, none is selected yet. */
    underlyingSelected(state, action: PayloadAction<string>) {
      state.underlying = action.payload;
    },
    /** Open `panel` (closing any other), or close it when it is the open one; null closes any. */
    panelToggled(state, action: PayloadAction<Panel | null>) {
      state.panel = action.payload === null || state.panel === action.payload ? null : action.payload;
    },
  },
  extraReducers: (b) => {
    b.addCase(viewApplied, (state, { payload }) => {
      if (payload.underlying !== undefined) state.underlying = payload.underlying;
      if (payload.at !== undefined) {
        if (state.at !== payload.at) state.history = null;
        state.at = payload.at;
      }
      if (payload.panel !== undefined) state.panel = payload.panel;
    });
  },
});

export const {
  connectionChanged,
  strikeSelected,
  timeTravel,
  historyAnswered,
  toastAdded,
  toastDismissed,
  unauthorizedChanged,
  panelToggled,
  panelClosed,
  underlyingSelected,
} = uiSlice.actions;
export default uiSlice.reducer;
