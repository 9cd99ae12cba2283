/**
 * Alerts on the client (docs/alerts.md): the panel, the rule being drafted (from a chain cell,
 * the header or the panel's form) and the fired alerts, newest first: those listed by
 * GET /api/alerts/events when the page opens and those the WebSocket brings meanwhile. An
 * alert may arrive twice (delivery is at least once): it is kept once, by id.
 */
import { createSlice, type PayloadAction } from "@reduxjs/toolkit";
import type { AlertKind, AlertOp, FiredAlert, OptionType } from "../alerts/types";

/** The fired alerts kept (the page lists these; older ones are in the API). */
export const FIRED_KEPT = 100;

/** A rule being drafted; `level` is what the user typed, in the shown unit (IV in %). */
export interface AlertDraft {
  kind: AlertKind;
  strike: number | null;
  option_type: OptionType;
  op: AlertOp;
  level: string;
  hysteresis: string;
  email: boolean;
  note: string;
}

export interface AlertsState {
  open: boolean;
  draft: AlertDraft | null;
  fired: FiredAlert[];
  /** Alerts that arrived live while the panel was closed (the bell's badge). */
  unseen: number;
}

const initialState: AlertsState = { open: false, draft: null, fired: [], unseen: 0 };

export const EMPTY_DRAFT: AlertDraft = {
  kind: "spot",
  strike: null,
  option_type: "CE",
  op: "crosses_above",
  level: "",
  hysteresis: "",
  email: false,
  note: "",
};

function merge(held: FiredAlert[], more: FiredAlert[]): { fired: FiredAlert[]; added: number } {
  const known = new Set(held.map((a) => a.id));
  const fresh = more.filter((a) => !known.has(a.id) && (known.add(a.id), true));
  const fired = [...held, ...fresh].sort((a, b) => b.id - a.id).slice(0, FIRED_KEPT);
  return { fired, added: fresh.length };
}

const alertsSlice = createSlice({
  name: "alerts",
  initialState,
  reducers: {
    /** Open or close the panel (toggle without a payload); opening marks every alert seen. */
    alertsToggled(state, action: PayloadAction<boolean | undefined>) {
      state.open = action.payload ?? !state.open;
      if (state.open) state.unseen = 0;
    },
    /** Start a rule (from a cell, the header or the form's kind), opening the panel. */
    alertDraftStarted(state, action: PayloadAction<Partial<AlertDraft>>) {
      state.draft = { ...EMPTY_DRAFT, ...action.payload };
      state.open = true;
      state.unseen = 0;
    },
    alertDraftChanged(state, action: PayloadAction<Partial<AlertDraft>>) {
      state.draft = { ...(state.draft ?? EMPTY_DRAFT), ...action.payload };
    },
    alertDraftCleared(state) {
      state.draft = null;
    },
    /** One alert from the WebSocket. */
    alertReceived(state, action: PayloadAction<FiredAlert>) {
      const { fired, added } = merge(state.fired, [action.payload]);
      state.fired = fired;
      if (added && !state.open) state.unseen += 1;
    },
    /** A page of GET /api/alerts/events (what fired while the page was closed, and before). */
    alertEventsLoaded(state, action: PayloadAction<FiredAlert[]>) {
      state.fired = merge(state.fired, action.payload).fired;
    },
  },
});

export const {
  alertsToggled,
  alertDraftStarted,
  alertDraftChanged,
  alertDraftCleared,
  alertReceived,
  alertEventsLoaded,
} = alertsSlice.actions;
export default alertsSlice.reducer;
